// Small helpers to assemble an ONNX ModelProto in TypeScript (onnx-proto) and encode it to bytes.

import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** The element types our graphs use, by their ONNX TensorProto.DataType code. */
export const DType = { float: 1, int32: 6, int64: 7, bool: 9 } as const;
export type DTypeCode = (typeof DType)[keyof typeof DType];

/** A dimension is a fixed size or a symbolic name (dynamic). */
export type Dim = number | string;

/** An attribute value; arrays of numbers become INTS unless `floats` is asked for. */
export type AttrValue = number | string | number[] | { floats: number[] } | { float: number };

/** Default-domain opset; 17 keeps ReduceMean's `axes` an attribute. */
export const DEFAULT_OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

function valueInfo(name: string, elemType: DTypeCode, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(value) };
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: value };
  if ('floats' in value) return { name, type: T.FLOATS, floats: value.floats };
  return { name, type: T.FLOAT, f: value.float };
}

/** Accumulates nodes, inputs, outputs and initializers of one graph; names are generated unique. */
export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly constCache = new Map<string, string>();
  private nextId = 0;
  private usesMsDomain = false;

  constructor(readonly graphName: string) {}

  /** A fresh value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.nextId++}`;
  }

  input(name: string, elemType: DTypeCode, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: DTypeCode, dims: Dim[]): string {
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Adds a node with one output (auto-named unless `outName` is given) and returns that name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outName?: string, domain = ''): string {
    const out = outName ?? this.fresh(opType.toLowerCase());
    this.opMulti(opType, inputs, [out], attrs, domain);
    return out;
  }

  /** Adds a node with several outputs (names given by the caller). */
  opMulti(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}, domain = ''): void {
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      opType,
      domain,
      name: this.fresh(`n_${opType}`),
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
  }

  /** A named initializer holding `data` (weights baked into the graph). */
  initializer(name: string, dims: number[], data: Float32Array | Int32Array | BigInt64Array, elemType?: DTypeCode): string {
    const type = elemType ?? (data instanceof Float32Array ? DType.float : data instanceof Int32Array ? DType.int32 : DType.int64);
    this.initializers.push({
      name,
      dims,
      dataType: type,
      rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    });
    return name;
  }

  /** A constant int64 vector, deduplicated so repeated shapes/axes share one initializer. */
  constInt64(values: number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.constCache.get(key);
    if (name === undefined) {
      name = this.initializer(this.fresh('c_i64'), [values.length], BigInt64Array.from(values.map((v) => BigInt(v))));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A constant int64 scalar (rank 0). */
  constInt64Scalar(value: number): string {
    const key = `i64s:${value}`;
    let name = this.constCache.get(key);
    if (name === undefined) {
      name = this.initializer(this.fresh('c_i64s'), [], BigInt64Array.of(BigInt(value)));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A constant float32 scalar (rank 0). */
  constFloat(value: number): string {
    const key = `f32:${Object.is(value, -0) ? '-0' : String(value)}`;
    let name = this.constCache.get(key);
    if (name === undefined) {
      name = this.initializer(this.fresh('c_f32'), [], Float32Array.of(value));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** Encodes the graph as a ModelProto (IR 8, default opset + com.microsoft when used). */
  toBytes(): Uint8Array {
    const opsetImport: onnxProto.onnx.IOperatorSetIdProto[] = [{ domain: '', version: DEFAULT_OPSET }];
    if (this.usesMsDomain) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'edgewise',
      opsetImport,
      graph: {
        name: this.graphName,
        node: this.nodes,
        input: this.inputs,
        output: this.outputs,
        initializer: this.initializers,
      },
    });
    return onnx.ModelProto.encode(model).finish();
  }
}
