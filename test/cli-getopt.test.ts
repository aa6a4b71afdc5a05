import { describe, expect, it } from 'vitest';
import { getopt } from '../src/cli/getopt.js';
import { usageText } from '../src/cli/usage.js';

const spec = {
  program: 'kpartx',
  shortOptions: 'rladfgvp:t:snu',
  longOptions: [{ name: 'backend', hasArg: true, key: 'B' }],
};
const parse = (args: string[], posixlyCorrect = false) => getopt(args, { ...spec, posixlyCorrect });

describe('getopt', () => {
  it('splits bundles and moves operands behind the options', () => {
    expect(parse(['disk.img', '-av', '-r'])).toEqual({
      ok: true,
      options: [{ key: 'a' }, { key: 'v' }, { key: 'r' }],
      operands: ['disk.img'],
    });
  });

  it('takes attached and separate option arguments, even when they look like options', () => {
    expect(parse(['-p-part', 'x'])).toMatchObject({ options: [{ key: 'p', arg: '-part' }], operands: ['x'] });
    expect(parse(['-p', '-part', 'x'])).toMatchObject({ options: [{ key: 'p', arg: '-part' }] });
    expect(parse(['-lp', '', 'x'])).toMatchObject({ options: [{ key: 'l' }, { key: 'p', arg: '' }] });
    expect(parse(['-vt', 'gpt', 'x'])).toMatchObject({ options: [{ key: 'v' }, { key: 't', arg: 'gpt' }] });
  });

  it('ends options at --, and keeps a lone - as an operand', () => {
    expect(parse(['-l', '--', '-a', 'x'])).toEqual({
      ok: true,
      options: [{ key: 'l' }],
      operands: ['-a', 'x'],
    });
    expect(parse(['-', '-l'])).toEqual({ ok: true, options: [{ key: 'l' }], operands: ['-'] });
  });

  it('stops at the first operand under POSIXLY_CORRECT', () => {
    expect(parse(['disk.img', '-l'], true)).toEqual({ ok: true, options: [], operands: ['disk.img', '-l'] });
  });

  it('words errors like glibc', () => {
    expect(parse(['-x', 'disk'])).toEqual({ ok: false, message: "kpartx: invalid option -- 'x'" });
    expect(parse(['-a', 'disk', '-p'])).toEqual({
      ok: false,
      message: "kpartx: option requires an argument -- 'p'",
    });
    expect(parse(['-h'])).toEqual({ ok: false, message: "kpartx: invalid option -- 'h'" });
    expect(parse(['--help'])).toEqual({ ok: false, message: "kpartx: unrecognized option '--help'" });
    expect(parse(['--backend'])).toEqual({
      ok: false,
      message: "kpartx: option '--backend' requires an argument",
    });
  });

  it('parses the long --backend option, abbreviated or with =', () => {
    expect(parse(['--backend', 'loop', 'x'])).toMatchObject({ options: [{ key: 'B', arg: 'loop' }] });
    expect(parse(['--backend=dm', 'x'])).toMatchObject({ options: [{ key: 'B', arg: 'dm' }] });
    expect(parse(['--back=dm', 'x'])).toMatchObject({ options: [{ key: 'B', arg: 'dm' }] });
  });
});

describe('usage', () => {
  it('is the C text with our own first line', () => {
    const lines = usageText('1.2.3').split('\n');
    expect(lines[0]).toBe('kpartx-tui v1.2.3');
    expect(lines[1]).toBe('Usage:');
    expect(lines[2]).toBe('  kpartx [-a|-d|-u|-l] [-r] [-p] [-f] [-g] [-s|-n] [-v] wholedisk');
    expect(lines[3]).toBe('\t-a add partition devmappings');
    expect(lines[13]).toBe("\t-s sync mode (Default). Don't return until the partitions are created");
    expect(lines).toHaveLength(15);
    expect(lines[14]).toBe('');
    expect(usageText().split('\n')[0]).toMatch(/^kpartx-tui v\d+\.\d+\.\d+/);
  });
});
