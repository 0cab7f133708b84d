"""Minimal safetensors reader/writer (json + struct + numpy), since the safetensors package is not installed here.

Format (https://github.com/huggingface/safetensors): 8-byte little-endian header length N,
N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
then the raw little-endian tensor bytes, offsets relative to the end of the header.
"""
import json
import struct

import numpy as np

# NOTE: numpy has no bfloat16; BF16 travels as uint16 bit patterns and is widened by a
# 16-bit left shift into float32 (exact: BF16 is the top half of an IEEE float32).
_NUMPY_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "BF16": np.uint16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.bool_,
}


def bf16_bits_to_f32(bits):
    """uint16 BF16 bit patterns -> float32 array (exact)."""
    return (bits.astype(np.uint32) << 16).view(np.float32)


def f32_to_bf16_bits(values):
    """float32 -> uint16 BF16 bit patterns, round-to-nearest-even (as torch's .to(bfloat16)); NaN kept quiet."""
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounding_bias = ((bits >> 16) & 1) + 0x7FFF
    rounded = ((bits + rounding_bias) >> 16).astype(np.uint16)
    nan = np.isnan(values)
    rounded[nan] = 0x7FC0
    return rounded


def read_safetensors(path):
    """Returns ({name: (dtype_str, np.ndarray in its stored dtype)}, metadata dict)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: file too short for a safetensors header")
    (header_len,) = struct.unpack("<Q", data[:8])
    if 8 + header_len > len(data):
        raise ValueError(f"{path}: header length {header_len} runs past the end of the file")
    header = json.loads(data[8 : 8 + header_len].decode("utf-8"))
    body = memoryview(data)[8 + header_len :]
    metadata = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype = info["dtype"]
        if dtype not in _NUMPY_DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dtype}")
        begin, end = info["data_offsets"]
        if end > len(body) or begin > end:
            raise ValueError(f"{path}: tensor {name} data_offsets {begin}..{end} out of range")
        np_dtype = np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if (end - begin) != count * np_dtype.itemsize:
            raise ValueError(f"{path}: tensor {name} byte size does not match shape {info['shape']}")
        array = np.frombuffer(body[begin:end], dtype=np_dtype).reshape(info["shape"]).copy()
        tensors[name] = (dtype, array)
    return tensors, metadata


def to_float32(dtype, array):
    """Upcast a stored tensor to float32 (BF16 via the bit shift)."""
    if dtype == "BF16":
        return bf16_bits_to_f32(array)
    return array.astype(np.float32)


def write_safetensors(path, tensors, metadata=None):
    """tensors: {name: (dtype_str, np.ndarray)}; BF16 arrays are uint16 bit patterns."""
    header = {}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        dtype, array = tensors[name]
        np_dtype = np.dtype(_NUMPY_DTYPES[dtype]).newbyteorder("<")
        blob = np.ascontiguousarray(array, dtype=np_dtype).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    header["__metadata__"] = dict(metadata or {"format": "pt"})
    header_bytes = json.dumps(header, separators=(",", ":")).encode("utf-8")
    # The reference implementation pads the header with spaces to an 8-byte boundary.
    header_bytes += b" " * ((8 - len(header_bytes) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)))
        f.write(header_bytes)
        for blob in blobs:
            f.write(blob)
