#include "engine/ops.h"

#include <cmath>
#include <limits>
#include <vector>

#include "engine/fp16.h"

namespace keel::engine {

void rms_norm(const float* x, const float* weight, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i] * x[i]);
  const float mean = static_cast<float>(sum / n);
  const float scale = 1.0f / std::sqrt(mean + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * weight[i];
}

void layer_norm(const float* x, const float* weight, const float* bias, float* y, int64_t n, float eps) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float mean = static_cast<float>(sum / n);
  double var = 0;
  for (int64_t i = 0; i < n; ++i) {
    float d = x[i] - mean;
    var += static_cast<double>(d * d);
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(var / n) + eps);
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * scale * weight[i] + bias[i];
}

void add_inplace(float* x, const float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

void silu_mul(float* gate, const float* up, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    float g = gate[i];
    gate[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

namespace {

// GELU (tanh form) of every half-precision value, as half: llama.cpp evaluates GELU on the
// half-precision input and stores a half result, so a table of all 65,536 inputs gives the
// same numbers as computing each one, at a lookup's cost.
const uint16_t* gelu_f16_table() {
  static const std::vector<uint16_t> table = [] {
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    constexpr float kCoef = 0.044715f;
    std::vector<uint16_t> t(1 << 16);
    for (uint32_t i = 0; i < t.size(); ++i) {
      const float h = fp16_to_fp32(static_cast<uint16_t>(i));
      t[i] = fp32_to_fp16(0.5f * h * (1.0f + std::tanh(kSqrt2OverPi * h * (1.0f + kCoef * h * h))));
    }
    return t;
  }();
  return table.data();
}

}  // namespace

void gelu(float* x, int64_t n) {
  const uint16_t* table = gelu_f16_table();
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    if (v <= -10.0f) {
      x[i] = 0.0f;
    } else if (v < 10.0f) {
      x[i] = fp16_to_fp32(table[fp32_to_fp16(v)]);
    }  // v >= 10 (or NaN): unchanged
  }
}

void softmax(float* x, int64_t n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;  // NaN never becomes the max
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    float e = x[i] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(x[i] - max);
    x[i] = e;
    sum += e;
  }
  const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

void rope_angles(int64_t pos, int64_t n_rot, float base, float freq_scale, const float* freq_factors,
                 float* cos_out, float* sin_out) {
  const float theta_scale = std::pow(base, -2.0f / static_cast<float>(n_rot));
  float theta = static_cast<float>(pos);
  for (int64_t i = 0; i < n_rot / 2; ++i) {
    float angle = freq_scale * (freq_factors ? theta / freq_factors[i] : theta);
    cos_out[i] = std::cos(angle);
    sin_out[i] = std::sin(angle);
    theta *= theta_scale;
  }
}

void rope_apply(float* head, int64_t n_rot, const float* cos_v, const float* sin_v, bool neox) {
  const int64_t half = n_rot / 2;
  for (int64_t i = 0; i < half; ++i) {
    float* a = neox ? head + i : head + 2 * i;
    float* b = neox ? head + i + half : head + 2 * i + 1;
    float x0 = *a, x1 = *b;
    *a = x0 * cos_v[i] - x1 * sin_v[i];
    *b = x0 * sin_v[i] + x1 * cos_v[i];
  }
}

}  // namespace keel::engine
