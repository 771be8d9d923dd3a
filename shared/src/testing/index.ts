export * from './stack.ts';
export * from './topic-reader.ts';
export * from './service-harness.ts';
export * from './http-assertions.ts';
export * from './access-tokens.ts';
export * from './stale-topics.ts';
export * from './task-data.ts';
export * from './maildev.ts';
