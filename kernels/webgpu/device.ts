// Opens a WebGPU device through Dawn (npm `webgpu`), tells a hardware GPU from SwiftShader, and enables optional features.

import { existsSync } from 'node:fs';
import { create, globals } from 'webgpu';

/** Where Debian's chromium package puts SwiftShader's Vulkan ICD (the software GPU CI uses). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export interface GpuContext {
  readonly device: GPUDevice;
  /** Adapter description for logs and bench reports, e.g. "nvidia | ampere | NVIDIA A10". */
  readonly adapterName: string;
  /** SwiftShader, lavapipe or another CPU-emulated adapter. */
  readonly isSoftware: boolean;
  /** `shader-f16` was offered and enabled. */
  readonly hasF16: boolean;
  /** `subgroups` was offered and enabled (kernels then reduce with subgroupAdd). */
  readonly hasSubgroups: boolean;
  /** The first validation/out-of-memory error Dawn reported since the last call, then clears it. */
  takeError(): string | null;
  destroy(): void;
}

export interface OpenGpuOptions {
  /** Return null unless the adapter is a hardware GPU (the `auto` backend resolution). */
  requireHardware?: boolean;
  /** Do not fall back to SwiftShader when the default Vulkan loader finds no usable adapter. */
  noSoftwareFallback?: boolean;
  /** Leave `subgroups` off even when offered (tests the shared-memory fallback). */
  disableSubgroups?: boolean;
  /** Leave `shader-f16` off even when offered. */
  disableF16?: boolean;
}

let globalsInstalled = false;

function installGlobals(): void {
  // NOTE: Dawn's enums (GPUBufferUsage, GPUShaderStage, ...) are globals in the browser; install them once.
  if (!globalsInstalled) {
    Object.assign(globalThis, globals);
    globalsInstalled = true;
  }
}

function describe(adapter: GPUAdapter): { name: string; software: boolean } {
  const info = adapter.info;
  const name = [info.vendor, info.architecture, info.description || info.device].filter((s) => s).join(' | ');
  const lower = name.toLowerCase();
  const fallback = (info as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const software = fallback || lower.includes('swiftshader') || lower.includes('llvmpipe') || lower.includes('lavapipe');
  return { name, software };
}

async function tryAdapter(): Promise<{ gpu: GPU; adapter: GPUAdapter } | null> {
  const gpu = create(['backend=vulkan']);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return adapter ? { gpu, adapter } : null;
}

/**
 * Finds an adapter and opens a device, or returns null when none can be created (or none is
 * hardware and `requireHardware` is set). Hardware is tried first through the system Vulkan
 * loader; SwiftShader only when that finds nothing Dawn accepts.
 */
export async function openGpu(options: OpenGpuOptions = {}): Promise<GpuContext | null> {
  installGlobals();
  let found = await tryAdapter();
  if (found && options.requireHardware && describe(found.adapter).software) return null;
  if (!found && !options.requireHardware && !options.noSoftwareFallback && !process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
    // NOTE: the Vulkan loader re-reads VK_ICD_FILENAMES on every instance, so setting it here works.
    process.env.VK_ICD_FILENAMES = SWIFTSHADER_ICD;
    found = await tryAdapter();
  }
  if (!found) return null;
  const { adapter } = found;
  let gpuRef: GPU | null = found.gpu;
  const { name, software } = describe(adapter);
  const hasF16 = !options.disableF16 && adapter.features.has('shader-f16');
  const hasSubgroups = !options.disableSubgroups && adapter.features.has('subgroups');
  const requiredFeatures: GPUFeatureName[] = [];
  if (hasF16) requiredFeatures.push('shader-f16');
  if (hasSubgroups) requiredFeatures.push('subgroups' as GPUFeatureName);
  const lim = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: lim.maxStorageBufferBindingSize,
      maxBufferSize: lim.maxBufferSize,
      maxComputeWorkgroupStorageSize: lim.maxComputeWorkgroupStorageSize,
      maxStorageBuffersPerShaderStage: lim.maxStorageBuffersPerShaderStage,
      maxComputeInvocationsPerWorkgroup: lim.maxComputeInvocationsPerWorkgroup,
    },
  });
  let firstError: string | null = null;
  // NOTE: without a handler Dawn drops validation errors silently and the kernel simply does not run.
  device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
    firstError ??= ev.error.message;
    if (process.env.EDGEWISE_DEBUG === '1') console.error('webgpu:', ev.error.message);
  };
  return {
    device,
    takeError() {
      const e = firstError;
      firstError = null;
      return e;
    },
    adapterName: name,
    isSoftware: software,
    hasF16,
    hasSubgroups,
    destroy() {
      device.destroy();
      // NOTE: Dawn keeps node alive while the GPU object is referenced; drop it so the process can exit.
      gpuRef = null;
      void gpuRef;
    },
  };
}

/** The name of the hardware GPU Dawn finds, or null (software adapters do not count); opens no device. */
export async function probeHardwareGpu(): Promise<string | null> {
  installGlobals();
  const found = await tryAdapter();
  if (!found) return null;
  const { name, software } = describe(found.adapter);
  return software ? null : name;
}
