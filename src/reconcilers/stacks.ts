// The stacks kind lives in ./stacks/ (types, mask, plan, read, apply, index).
export * from './stacks/index.js';
