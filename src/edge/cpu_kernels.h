// Keel's portable CPU kernels for the edge graph runtime: reference-quality float32 loops that
// run on any CPU (x86-64, AArch64), no allocation inside a kernel. Images are NCHW.
//
// Contract: each kernel writes exactly the output size its geometry says (the caller sizes the
// output from conv_output_size / pool geometry); inputs are read-only and never aliased with
// outputs. Geometry is checked by the caller (graph_runtime), not here.
#pragma once

#include <cstdint>

namespace keel::edge {

//! One spatial axis of a convolution or pooling window.
struct WindowAxis {
  int64_t in = 0;         //!< input size
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_begin = 0;
  int64_t pad_end = 0;
  int64_t out = 0;        //!< output size (computed by the caller)
};

//! floor((in + pads - dilation*(kernel-1) - 1) / stride) + 1, or with ceil when ceil_mode.
int64_t window_output_size(const WindowAxis& a, bool ceil_mode = false);

struct Conv2dShape {
  int64_t batch = 1, in_channels = 0, out_channels = 0, groups = 1;
  WindowAxis h, w;
};

//! y[n, oc, oh, ow] = bias[oc] + sum over the group's input channels and the kernel window of
//! x[n, ic, ...] * weight[oc, ic - group start, kh, kw]; padding reads zeros.
void conv2d(const Conv2dShape& s, const float* x, const float* weight, const float* bias,
            float* y);

enum class PoolKind { max, average };

struct Pool2dShape {
  int64_t batch = 1, channels = 0;
  WindowAxis h, w;
  bool count_include_pad = false;  //!< average: divide by the whole window, pads included
};

void pool2d(PoolKind kind, const Pool2dShape& s, const float* x, float* y);

}  // namespace keel::edge
