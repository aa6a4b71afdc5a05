// Module hooks for ts-register.mjs: `./x.js` imports resolve to `./x.ts` (or `./x.tsx`) when only
// that exists, and .ts/.tsx files lose their types (JSX becomes React's automatic runtime calls). Rolldown's native transform (it comes with Vitest's Vite) starts in a
// fraction of the time the TypeScript compiler needs; the compiler is the fallback.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

async function loadStripper() {
  try {
    const { transformSync } = await import('rolldown/experimental');
    return (source, fileName) => {
      const result = transformSync(fileName, source);
      if (result.errors?.length) throw new Error(`${fileName}: ${result.errors[0].message}`);
      return result.code;
    };
  } catch {
    const ts = (await import('typescript')).default;
    return (source, fileName) =>
      ts.transpileModule(source, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        fileName,
      }).outputText;
  }
}

const strip = await loadStripper();

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && /\.tsx?$/.test(context.parentURL ?? '')) {
    for (const ext of ['.ts', '.tsx']) {
      const candidate = new URL(specifier.replace(/\.js$/, ext), context.parentURL);
      if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
    }
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!/\.tsx?$/.test(url)) return next(url, context);
  const fileName = fileURLToPath(url);
  return { format: 'module', source: strip(readFileSync(fileName, 'utf8'), fileName), shortCircuit: true };
}
