// The resolve hook of resolve-sdk.mjs.
const SRC = new URL('../src/', import.meta.url);
const MAP = { '@sandkit/sdk': 'index.js', '@sandkit/sdk/testing': 'testing.js' };

export async function resolve(specifier, context, next) {
  const file = MAP[specifier];
  if (file !== undefined) return { url: new URL(file, SRC).href, shortCircuit: true };
  return next(specifier, context);
}
