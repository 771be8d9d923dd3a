// Importing the catalogue registers every event type.
export * as identityEvents from './identity.ts';
export * as governanceEvents from './governance.ts';
export * as workEvents from './work.ts';
