# Builds the native huff8 codec addon (kernels/codec/src) at `npm install`; kernels/codec/native.ts loads it via node-gyp-build.
{
  "targets": [
    {
      "target_name": "edgewise_codec",
      "sources": [
        "kernels/codec/src/addon.cc",
        "kernels/codec/src/huff8-decode.cc",
        "kernels/codec/src/huff8-encode.cc",
        "kernels/codec/src/cpu-forward.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_CPP_EXCEPTIONS", "NAPI_VERSION=8"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-O3", "-fexceptions", "-pthread"],
      "ldflags": ["-pthread"]
    }
  ]
}
