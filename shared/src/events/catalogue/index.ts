// Importing the catalogue registers every event type.
export * as identityEvents from './identity.ts';
export * as governanceEvents from './governance.ts';
export * as workEvents from './work.ts';
export * as collabEvents from './collab.ts';
export * as realtimeEvents from './realtime.ts';
export * as notifyEvents from './notify.ts';
