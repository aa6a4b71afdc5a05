/**
 * Entry of the kpartx-tui binary. `--json` answers without loading Ink or React; otherwise the app
 * needs a terminal on both ends.
 */

const USAGE = `usage: kpartx-tui [PATH...]
       kpartx-tui --json [options] PATH

Browse block devices and disk images, preview and create partition maps, and mount them.
With one PATH the app opens straight on its layout.`;

export async function main(args: string[]): Promise<number> {
  if (args.includes('--json')) {
    // A variable specifier keeps this module free of a compile-time tie to the CLI.
    const json: string = '../cli/json.js';
    const { jsonMain } = (await import(json)) as { jsonMain: (args: string[]) => Promise<number> | number };
    return await jsonMain(args);
  }
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      'kpartx-tui: needs an interactive terminal; for scripts use `kpartx -l PATH` or `kpartx-tui --json PATH`.\n',
    );
    return 2;
  }
  const paths = args.filter((a) => a !== '--');
  const [{ runApp }, { createTuiEngine }] = await Promise.all([import('./run.js'), import('./engine.js')]);
  try {
    return await runApp(createTuiEngine(), paths);
  } catch (error) {
    process.stderr.write(`kpartx-tui: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
