// One view over a folder's weights: model.safetensors or shards listed in model.safetensors.index.json.

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ModelFormatError } from '../errors.js';
import { isObject } from './json-fields.js';
import { SafetensorsFile, type TensorInfo } from './safetensors.js';

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

/** Tensors by name across one or several safetensors files. */
export class SafetensorsCheckpoint {
  readonly files: SafetensorsFile[];
  private readonly fileOf: Map<string, SafetensorsFile>;

  constructor(files: SafetensorsFile[]) {
    this.files = files;
    this.fileOf = new Map();
    for (const file of files) {
      for (const t of file.tensors()) {
        if (this.fileOf.has(t.name)) throw new ModelFormatError(t.name, `tensor appears in two shards (${this.fileOf.get(t.name)!.path}, ${file.path})`);
        this.fileOf.set(t.name, file);
      }
    }
  }

  /** Opens `dir/model.safetensors`, or the shards named by `dir/model.safetensors.index.json`. */
  static openFolder(dir: string): SafetensorsCheckpoint {
    const single = join(dir, SINGLE_FILE);
    const index = join(dir, INDEX_FILE);
    if (existsSync(single)) return new SafetensorsCheckpoint([SafetensorsFile.open(single)]);
    if (!existsSync(index)) throw new ModelFormatError(dir, `no ${SINGLE_FILE} or ${INDEX_FILE} in the folder`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(index, 'utf8'));
    } catch (err) {
      throw new ModelFormatError(index, `not valid JSON: ${(err as Error).message}`, { cause: err });
    }
    const weightMap = isObject(parsed) ? parsed.weight_map : undefined;
    if (!isObject(weightMap)) throw new ModelFormatError(index, 'missing "weight_map" object');
    const shardNames = new Set<string>();
    for (const [name, shard] of Object.entries(weightMap)) {
      if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
        throw new ModelFormatError(index, `weight_map entry for "${name}" must be a file name in the folder`);
      }
      shardNames.add(shard);
    }
    const files: SafetensorsFile[] = [];
    try {
      for (const shard of [...shardNames].sort()) files.push(SafetensorsFile.open(join(dir, shard)));
      const checkpoint = new SafetensorsCheckpoint(files);
      for (const [name, shard] of Object.entries(weightMap)) {
        const file = checkpoint.fileOf.get(name);
        if (file === undefined || basename(file.path) !== shard) {
          throw new ModelFormatError(index, `tensor "${name}" is listed in ${shard as string} but that shard does not hold it`);
        }
      }
      return checkpoint;
    } catch (err) {
      for (const f of files) f.close();
      throw err;
    }
  }

  tensors(): TensorInfo[] {
    return this.files.flatMap((f) => f.tensors());
  }

  has(name: string): boolean {
    return this.fileOf.has(name);
  }

  info(name: string): TensorInfo {
    return this.file(name).info(name);
  }

  readRaw(name: string): Uint8Array {
    return this.file(name).readRaw(name);
  }

  readF32(name: string): Float32Array {
    return this.file(name).readF32(name);
  }

  /** Total bytes of all files on disk. */
  diskBytes(): number {
    return this.files.reduce((a, f) => a + f.fileSize, 0);
  }

  close(): void {
    for (const f of this.files) f.close();
  }

  private file(name: string): SafetensorsFile {
    const file = this.fileOf.get(name);
    if (file === undefined) throw new ModelFormatError(name, 'tensor not found in the checkpoint');
    return file;
  }
}
