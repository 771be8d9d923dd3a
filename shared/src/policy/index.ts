export * from './roles.ts';
export * from './catalogue.ts';
export * from './settings.ts';
export * from './effective.ts';
export * from './resolver.ts';
export * from './membership-rules.ts';
export * from './restore-window.ts';
export * from './explain.ts';
