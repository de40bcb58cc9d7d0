import { collector, config } from '@sandkit/sdk';

function deep() {
  throw new RangeError('too far');
}

collector('failing', () => {
  const mode = config().str('mode');
  if (mode === 'error') deep();
  if (mode === 'string') throw 'a plain string';
  if (mode === 'object') throw { code: 7 };
  if (mode === 'undefined') throw undefined;
  if (mode === 'recurse') {
    const r = (n) => r(n + 1) + 1;
    r(0);
  }
  if (mode === 'bad-return') return 42;
  return [];
});
