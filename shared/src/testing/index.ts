export * from './stack.ts';
export * from './topic-reader.ts';
