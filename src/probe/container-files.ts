/**
 * How container readers reach the files an image names (backing files, VMDK extents): opened
 * read-only, looked up relative to the image's own directory as qemu does, and every one kept so
 * the caller can close them all.
 */
import { closeSync, fstatSync, openSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { Disk } from '../io/disk.js';
import { fileDisk } from '../io/file-disk.js';
import { ContainerError, type ContainerProblem } from './container-error.js';

/** A file opened read-only, as a Disk of its real size in bytes. */
export interface ContainerFile extends Disk {
  readonly path: string;
  close(): void;
}

/** The file system as the readers see it. Tests may give their own. */
export interface ContainerFiles {
  /** Open `path` read-only. Throws the file system's error (with its `code`) when it cannot. */
  open(path: string): ContainerFile;
  /** One name per file however it is reached (symlinks, `..`), to notice a chain that loops. */
  identity(path: string): string;
}

export const nodeFiles: ContainerFiles = {
  open(path) {
    const fd = openSync(path, 'r');
    try {
      return fileDisk(fd, path, fstatSync(fd).size, 512);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  },
  identity(path) {
    return realpathSync(path);
  },
};

/** What a reader needs to follow the files an image names, and to hand them back for closing. */
export interface OpenContext {
  files: ContainerFiles;
  /** This image's path, when it is a file: relative names are looked up from its directory. */
  path?: string;
  /** This image as named in messages. */
  name: string;
  /** Every file opened on the way (the image's caller closes them). */
  opened: ContainerFile[];
  /** Identities of the images above this one in a backing chain. */
  seen: string[];
  /** How many backing files lie above this image. */
  depth: number;
  maxDepth: number;
}

export const DEFAULT_MAX_DEPTH = 16;

/** Where a name written inside `imagePath` points: absolute as it is, else beside the image. */
export function besideImage(imagePath: string, name: string): string {
  return isAbsolute(name) ? name : join(dirname(imagePath), name);
}

/**
 * Open a file the image names (`what`: `backing file`, `extent`), relative to the image. A file
 * that is not there is `missing`; one that cannot be opened is an I/O problem; both name it and
 * where it was looked for.
 */
export function openNamed(
  ctx: OpenContext,
  format: string,
  name: string,
  what: string,
  missing: ContainerProblem,
): ContainerFile {
  if (!ctx.path)
    throw new ContainerError(
      ctx.name,
      format,
      missing === 'missing-extent' ? missing : 'backing-file',
      `its ${what} "${name}" is looked up beside the image, and the image's own path is not known here`,
    );
  const path = besideImage(ctx.path, name);
  try {
    const file = ctx.files.open(path);
    ctx.opened.push(file);
    return file;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new ContainerError(
        ctx.name,
        format,
        missing,
        `${what} "${name}" is missing (looked for ${path})`,
      );
    throw new ContainerError(
      ctx.name,
      format,
      'io',
      `${what} "${name}" (${path}) cannot be opened: ${code ?? (error as Error).message}`,
    );
  }
}

/** Close every file in the list, once, ignoring errors from files already gone. */
export function closeAll(files: ContainerFile[]): void {
  for (const file of files.splice(0)) {
    try {
      file.close();
    } catch {
      // Closing is best effort: the descriptor may already be closed.
    }
  }
}

/** A container opened for reading: the guest's disk and what the header says about it. */
export interface OpenedImage {
  /** The disk the guest sees. Reads may throw ContainerError where the image is damaged. */
  disk: Disk;
  /** Human name, e.g. `QEMU qcow2 v3 image`. */
  description: string;
  /** Short facts from the header: cluster size, compression, backing file, snapshots, … */
  features: string[];
}
