// The API's `edgewise` extension field (snake_case, validated by the server's schema) → the engine's AdaptiveWish.

import type { AdaptiveWish, Quality } from './governor.js';

export interface ApiEdgewiseField {
  quality?: Quality;
  min_depth?: number;
  precision?: string;
}

export function wishFromApi(field: ApiEdgewiseField | null | undefined): AdaptiveWish | undefined {
  if (field === null || field === undefined) return undefined;
  const wish: AdaptiveWish = {};
  if (field.quality !== undefined) wish.quality = field.quality;
  if (field.min_depth !== undefined) wish.minDepth = field.min_depth;
  if (field.precision !== undefined) wish.precision = field.precision;
  return wish;
}
