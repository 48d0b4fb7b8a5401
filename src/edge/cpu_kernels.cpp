#include "edge/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace keel::edge {

int64_t window_output_size(const WindowAxis& a, bool ceil_mode) {
  const int64_t span = a.in + a.pad_begin + a.pad_end - a.dilation * (a.kernel - 1) - 1;
  if (span < 0) return 0;
  int64_t out = span / a.stride + 1;
  if (ceil_mode && span % a.stride != 0) {
    // A last window must start inside the input or its leading pad (ONNX's rule).
    if ((out * a.stride) < a.in + a.pad_begin) ++out;
  }
  return out;
}

namespace {

// A 1x1 convolution with stride 1 and no padding is a matrix product, W [oc, ic] x X [ic, hw]:
// eight output channels at a time over a strip of pixels, so each input value is read once per
// eight outputs and the accumulators stay in L1.
void pointwise_conv(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
                    float* y) {
  constexpr int64_t kRows = 8, kStrip = 256;
  const int64_t plane = s.h.in * s.w.in;
  float acc[kRows][kStrip];
  for (int64_t n = 0; n < s.batch; ++n) {
    const float* xn = x + n * s.in_channels * plane;
    float* yn = y + n * s.out_channels * plane;
    for (int64_t p0 = 0; p0 < plane; p0 += kStrip) {
      const int64_t width = std::min(kStrip, plane - p0);
      for (int64_t o0 = 0; o0 < s.out_channels; o0 += kRows) {
        const int64_t rows = std::min(kRows, s.out_channels - o0);
        for (int64_t r = 0; r < rows; ++r) {
          std::fill(acc[r], acc[r] + width, bias ? bias[o0 + r] : 0.0f);
        }
        for (int64_t ic = 0; ic < s.in_channels; ++ic) {
          const float* xr = xn + ic * plane + p0;
          for (int64_t r = 0; r < rows; ++r) {
            const float wv = weight[(o0 + r) * s.in_channels + ic];
            float* a = acc[r];
            for (int64_t j = 0; j < width; ++j) a[j] += wv * xr[j];
          }
        }
        for (int64_t r = 0; r < rows; ++r) {
          std::copy(acc[r], acc[r] + width, yn + (o0 + r) * plane + p0);
        }
      }
    }
  }
}

}  // namespace

void conv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
            float* y) {
  if (s.groups == 1 && s.h.kernel == 1 && s.w.kernel == 1 && s.h.stride == 1 &&
      s.w.stride == 1 && s.h.pad_begin == 0 && s.h.pad_end == 0 && s.w.pad_begin == 0 &&
      s.w.pad_end == 0) {
    pointwise_conv(s, x, weight, bias, y);
    return;
  }
  const int64_t ic_per_group = s.in_channels / s.groups;
  const int64_t oc_per_group = s.out_channels / s.groups;
  const int64_t in_plane = s.h.in * s.w.in, out_plane = s.h.out * s.w.out;
  const int64_t kernel_size = s.h.kernel * s.w.kernel;
  for (int64_t n = 0; n < s.batch; ++n) {
    for (int64_t oc = 0; oc < s.out_channels; ++oc) {
      float* out = y + (n * s.out_channels + oc) * out_plane;
      std::fill(out, out + out_plane, bias ? bias[oc] : 0.0f);
      const int64_t group = oc / oc_per_group;
      for (int64_t icg = 0; icg < ic_per_group; ++icg) {
        const int64_t ic = group * ic_per_group + icg;
        const float* in = x + (n * s.in_channels + ic) * in_plane;
        const float* wk = weight + (oc * ic_per_group + icg) * kernel_size;
        for (int64_t kh = 0; kh < s.h.kernel; ++kh) {
          for (int64_t kw = 0; kw < s.w.kernel; ++kw) {
            const float wv = wk[kh * s.w.kernel + kw];
            if (wv == 0.0f) continue;
            // Output columns whose input column lies inside the image, for this kw.
            const int64_t offset_w = kw * s.w.dilation - s.w.pad_begin;
            int64_t ow_begin = 0, ow_end = s.w.out;
            while (ow_begin < ow_end && ow_begin * s.w.stride + offset_w < 0) ++ow_begin;
            while (ow_end > ow_begin && (ow_end - 1) * s.w.stride + offset_w >= s.w.in) --ow_end;
            for (int64_t oh = 0; oh < s.h.out; ++oh) {
              const int64_t ih = oh * s.h.stride + kh * s.h.dilation - s.h.pad_begin;
              if (ih < 0 || ih >= s.h.in) continue;
              const float* row = in + ih * s.w.in;
              float* out_row = out + oh * s.w.out;
              if (s.w.stride == 1) {
                const float* src = row + offset_w;
                for (int64_t ow = ow_begin; ow < ow_end; ++ow) out_row[ow] += wv * src[ow];
              } else {
                for (int64_t ow = ow_begin; ow < ow_end; ++ow)
                  out_row[ow] += wv * row[ow * s.w.stride + offset_w];
              }
            }
          }
        }
      }
    }
  }
}

void pool2d(PoolKind kind, const Pool2dShape& s, const float* x, float* y) {
  const int64_t in_plane = s.h.in * s.w.in, out_plane = s.h.out * s.w.out;
  for (int64_t c = 0; c < s.batch * s.channels; ++c) {
    const float* in = x + c * in_plane;
    float* out = y + c * out_plane;
    for (int64_t oh = 0; oh < s.h.out; ++oh) {
      for (int64_t ow = 0; ow < s.w.out; ++ow) {
        float acc = kind == PoolKind::max ? -std::numeric_limits<float>::infinity() : 0.0f;
        int64_t counted = 0, window = 0;
        for (int64_t kh = 0; kh < s.h.kernel; ++kh) {
          const int64_t ih = oh * s.h.stride + kh * s.h.dilation - s.h.pad_begin;
          for (int64_t kw = 0; kw < s.w.kernel; ++kw) {
            const int64_t iw = ow * s.w.stride + kw * s.w.dilation - s.w.pad_begin;
            // The window as the padded input bounds it (for count_include_pad).
            if (ih < s.h.in + s.h.pad_end && iw < s.w.in + s.w.pad_end) ++window;
            if (ih < 0 || ih >= s.h.in || iw < 0 || iw >= s.w.in) continue;
            const float v = in[ih * s.w.in + iw];
            acc = kind == PoolKind::max ? std::max(acc, v) : acc + v;
            ++counted;
          }
        }
        if (kind == PoolKind::average) {
          const int64_t divisor = s.count_include_pad ? window : counted;
          acc = divisor > 0 ? acc / static_cast<float>(divisor) : 0.0f;
        }
        out[oh * s.w.out + ow] = acc;
      }
    }
  }
}

}  // namespace keel::edge
