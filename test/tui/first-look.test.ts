/**
 * The app's first look at an image: it needs no kernel call when no loop is bound to the image,
 * and says the same as the full look that follows.
 */
import { describe, expect, it } from 'vitest';
import type { MapBackend } from '../../src/engine/backend.js';
import { createDmBackend } from '../../src/engine/backends/dm.js';
import { createTuiEngine } from '../../src/tui/engine.js';
import { DEFAULT_OPTIONS } from '../../src/tui/model.js';
import { FakeMachine } from '../support/fake-machine.js';
import { sampleImage } from './images.js';

const IMAGE = '/img/disk.img';

function setup() {
  const kernel = new FakeMachine({ dmMajor: 250 });
  kernel.addFile(IMAGE, sampleImage());
  const made: MapBackend[] = [];
  const engine = createTuiEngine({
    machine: kernel,
    isRoot: true,
    backend: (_kind, k) => {
      const backend = createDmBackend(k);
      made.push(backend);
      return backend;
    },
  });
  return { kernel, engine, made };
}

describe('first look at an image', () => {
  it('makes no backend while no loop is bound, and matches the full look after it', async () => {
    const { engine, made } = setup();
    const first = await engine.inspect(IMAGE, DEFAULT_OPTIONS);
    expect(made).toHaveLength(0);
    const full = await engine.inspect(IMAGE, DEFAULT_OPTIONS);
    expect(made).toHaveLength(1);
    // The full look adds the contents; the layout and the maps to make are the same.
    const strip = (rows: typeof first.layout.partitions) =>
      rows.map(({ number, start, size, typeName, flags }) => ({ number, start, size, typeName, flags }));
    expect(strip(first.layout.partitions)).toEqual(strip(full.layout.partitions));
    expect(first.preview).toEqual(full.preview);
    expect(first.preview).toMatchObject({ backend: 'dm', backendReason: 'device-mapper' });
    expect(first.layout.contentsPending).toBe(true);
  });

  it('asks the kernel at once when the image has a loop, whose maps may exist', async () => {
    const { kernel, engine, made } = setup();
    const loop = kernel.loop.attach(IMAGE, { readOnly: false });
    const first = await engine.inspect(IMAGE, DEFAULT_OPTIONS);
    expect(made).toHaveLength(1);
    expect(first.existing).toEqual([]);
    expect(first.preview.maps[0]?.name).toBe(`${loop.path.slice(5)}p1`);
  });
});
