import onnxProto from 'onnx-proto';

/**
 * A few lines over `onnx-proto` to write small ONNX graphs by hand: enough for the random-weight
 * stand-ins of each sherpa family, which need the real input order, output and metadata of the
 * family but none of its architecture.
 */
const { onnx } = onnxProto;

export const FLOAT = 1;
export const INT32 = 6;
export const INT64 = 7;

/** A dimension: a number, or a name for a dynamic one. */
export type Dim = number | string;

export interface Graph {
  readonly nodes: onnxProto.onnx.INodeProto[];
  readonly initializers: onnxProto.onnx.ITensorProto[];
  readonly inputs: onnxProto.onnx.IValueInfoProto[];
  readonly outputs: onnxProto.onnx.IValueInfoProto[];
}

export function newGraph(): Graph {
  return { nodes: [], initializers: [], inputs: [], outputs: [] };
}

export function valueInfo(name: string, elemType: number, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((dim) => (typeof dim === 'number' ? { dimValue: dim } : { dimParam: dim })) },
      },
    },
  };
}

export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): onnxProto.onnx.ITensorProto {
  const data = Float32Array.from(values);
  return { name, dims: [...dims], dataType: FLOAT, rawData: new Uint8Array(data.buffer) };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly number[]): onnxProto.onnx.ITensorProto {
  const data = BigInt64Array.from(values.map((value) => BigInt(value)));
  return { name, dims: [...dims], dataType: INT64, rawData: new Uint8Array(data.buffer) };
}

type Attribute = number | string | readonly number[];

export function node(graph: Graph, opType: string, inputs: readonly string[], output: string, attributes: Record<string, Attribute> = {}): string {
  const attribute: onnxProto.onnx.IAttributeProto[] = Object.entries(attributes).map(([name, value]) => {
    if (typeof value === 'number') {
      return Number.isInteger(value) ? { name, type: 2, i: value } : { name, type: 1, f: value };
    }
    if (typeof value === 'string') return { name, type: 3, s: new TextEncoder().encode(value) };
    return { name, type: 7, ints: [...value] };
  });
  graph.nodes.push({ opType, input: [...inputs], output: [output], name: `${opType}_${graph.nodes.length}`, attribute });
  return output;
}

/** A constant float (scalar when `dims` is empty) or int64 tensor, added as an initializer. */
export function constant(graph: Graph, name: string, values: readonly number[], dims: readonly number[] = [], type = FLOAT): string {
  graph.initializers.push(type === INT64 ? int64Tensor(name, dims, values) : floatTensor(name, dims, values));
  return name;
}

export function encodeModel(graph: Graph, metadata: Readonly<Record<string, string>>): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'chorus-tiny-models',
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'tiny',
      node: graph.nodes,
      initializer: graph.initializers,
      input: graph.inputs,
      output: graph.outputs,
    },
    metadataProps: Object.entries(metadata).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** Deterministic pseudo-random numbers in [-1, 1), so the same builder writes the same bytes. */
export function randomValues(count: number, seed: number, scale = 1): Float32Array {
  const values = new Float32Array(count);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    values[i] = (((state >>> 0) / 0x100000000) * 2 - 1) * scale;
  }
  return values;
}
