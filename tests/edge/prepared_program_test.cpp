// Preparation ahead of time: partitioning between a device profile's delegates (coverage of
// nodes and MACs, the reason each node stays on the CPU), the spec's bounds, the memory plan
// (no two live values share a byte; smaller than a buffer per value), and the program file
// (content-hashed, verified on load, runs as the ONNX Runtime oracle says).
#include <gtest/gtest.h>

#include "core/json.h"
#include "edge/prepared_program.h"
#include "support/test_support.h"

namespace keel::edge {
namespace {

std::string data(const std::string& name) {
  return testing::source_dir() + "/tests/edge/data/" + name;
}
DeviceProfile device(const std::string& name) {
  auto d = load_device_profile(testing::source_dir() + "/examples/mobile-vision/devices/" + name +
                               ".yaml");
  EXPECT_TRUE(d.ok()) << d.status().message();
  return d.ok() ? *d : portable_only_profile();
}
PreparedProgram prepared(const std::string& model, const DeviceProfile& d) {
  auto p = prepare_program(testing::read_file(data(model)), d, {});
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : PreparedProgram{};
}

TEST(Partitioner, ADepthwiseConvStaysOnTheCpuWhereTheDelegateLacksIt) {
  PreparedProgram p = prepared("cnn_mobile.onnx", device("phone-npu"));
  const auto& plan = p.partitions;
  ASSERT_EQ(plan.nodes.size(), 14u);  // 16 nodes, 2 BatchNormalizations folded
  // conv1 relu pool | dwconv hardswish | conv3 clip avgpool conv4 | leakyrelu | concat gap | flatten | gemm
  std::vector<std::string> delegates;
  for (const auto& part : plan.partitions) delegates.push_back(part.delegate);
  EXPECT_EQ(delegates, (std::vector<std::string>{"npu", "cpu", "npu", "cpu", "npu", "cpu", "npu"}));
  for (const auto& n : plan.nodes) {
    if (n.op_type == "HardSwish") {
      EXPECT_EQ(n.why_not_accelerated, "npu does not run HardSwish");
    }
  }
  EXPECT_NE(plan.nodes[3].why_not_accelerated.find("depthwise"), std::string::npos)
      << plan.nodes[3].node << ": " << plan.nodes[3].why_not_accelerated;
  EXPECT_GT(plan.mac_coverage, 0.5);
  EXPECT_LT(plan.mac_coverage, 1.0);
  EXPECT_NEAR(plan.node_coverage, 10.0 / 14.0, 1e-9);

  PreparedProgram dw = prepared("cnn_mobile.onnx", device("phone-npu-dw"));
  EXPECT_LT(dw.partitions.partitions.size(), plan.partitions.size());
  EXPECT_GT(dw.partitions.mac_coverage, plan.mac_coverage);

  PreparedProgram cpu = prepared("cnn_mobile.onnx", device("cpu-only"));
  ASSERT_EQ(cpu.partitions.partitions.size(), 1u);
  EXPECT_EQ(cpu.partitions.mac_coverage, 0.0);
  EXPECT_FALSE(cpu.partitions.has_accelerator);
}

TEST(Partitioner, ConvMacsCountEveryWeightOfEveryOutput) {
  PreparedProgram p = prepared("cnn_mobile.onnx", device("cpu-only"));
  // The first conv: 2 x 6 x 17 x 15 outputs, 3 x 3 x 3 weights each.
  EXPECT_EQ(p.partitions.nodes[0].op_type, "Conv");
  EXPECT_EQ(p.partitions.nodes[0].macs, 2.0 * 6 * 17 * 15 * 27);
}

TEST(ProgramBounds, CoverageAndPartitionBoundsRefuseWithTheNumbers) {
  PreparedProgram p = prepared("cnn_mobile.onnx", device("phone-npu"));
  EXPECT_TRUE(check_bounds(p, {0.5, 8}).ok());
  Status low = check_bounds(p, {0.99, 0});
  EXPECT_EQ(low.code(), StatusCode::failed_precondition);
  EXPECT_NE(low.message().find("below the bound 99.0%"), std::string::npos) << low.message();
  Status many = check_bounds(p, {0, 3});
  EXPECT_EQ(many.code(), StatusCode::failed_precondition);
  EXPECT_NE(many.message().find("7 partitions"), std::string::npos) << many.message();
}

TEST(MemoryPlan, LiveValuesNeverShareBytesAndTheArenaIsSmallerThanABufferEach) {
  for (const char* model : {"cnn_mobile.onnx", "cnn_windows.onnx"}) {
    PreparedProgram p = prepared(model, device("cpu-only"));
    EXPECT_FALSE(overlaps(p.memory)) << model;
    EXPECT_LT(p.memory.arena_bytes, p.memory.naive_bytes) << model;
    for (const auto& b : p.memory.buffers) EXPECT_EQ(b.offset % kArenaAlignment, 0);
  }
  // No plan can be smaller than the most bytes alive at one step; this one stays close to it.
  PreparedProgram p = prepared("cnn_mobile.onnx", device("cpu-only"));
  int64_t peak_live = 0;
  for (int64_t step = -1; step <= 14; ++step) {
    int64_t live = 0;
    for (const auto& b : p.memory.buffers) {
      if (b.first_step <= step && step <= b.last_step) live += b.bytes;
    }
    peak_live = std::max(peak_live, live);
  }
  EXPECT_GE(p.memory.arena_bytes, peak_live);
  EXPECT_LE(p.memory.arena_bytes, peak_live * 3 / 2) << "peak live " << peak_live;
}

TEST(PreparedProgramFile, RoundTripsVerifiesAndRunsAsOnnxRuntimeSays) {
  testing::TempDir dir;
  PreparedProgram p = prepared("cnn_mobile.onnx", device("phone-npu"));
  auto id = write_program(dir.file("m.kprog"), p);
  ASSERT_TRUE(id.ok()) << id.status().message();
  auto loaded = load_program(dir.file("m.kprog"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->program_sha256, *id);
  EXPECT_EQ(loaded->header["partitions"].size(), 7u);
  EXPECT_EQ(loaded->input_shape, (std::vector<int64_t>{2, 3, 17, 15}));
  Json input = *parse_json(testing::read_file(data("cnn_mobile.input.json")));
  Json expected = *parse_json(testing::read_file(data("cnn_mobile.expected.json")));
  Tensor x;
  x.shape = loaded->input_shape;
  for (double v : input["values"]) x.data.push_back(static_cast<float>(v));
  auto out = loaded->runtime->run({{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  auto want = expected["values"].get<std::vector<double>>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR((*out)[0].data[i], want[i], 1e-4);

  // One flipped byte anywhere, or a cut, is refused before anything is used.
  const std::string bytes = testing::read_file(dir.file("m.kprog"));
  for (size_t at : {size_t{3}, size_t{20}, bytes.size() / 2, bytes.size() - 5}) {
    std::string bad = bytes;
    bad[at] ^= 0x20;
    testing::write_file(dir.file("bad.kprog"), bad);
    auto refused = load_program(dir.file("bad.kprog"));
    EXPECT_FALSE(refused.ok()) << "byte " << at;
  }
  testing::write_file(dir.file("cut.kprog"), bytes.substr(0, bytes.size() - 40));
  EXPECT_EQ(load_program(dir.file("cut.kprog")).status().code(), StatusCode::data_loss);
}

TEST(DeviceProfile, MistakesAreNamedWithTheirKey) {
  auto ok = parse_device_profile("keel_device: 1\nname: x\ndelegates: []\n", "x.yaml");
  ASSERT_TRUE(ok.ok());
  ASSERT_EQ(ok->delegates.size(), 1u);
  EXPECT_TRUE(ok->delegates[0].portable());
  for (const char* bad : {"keel_device: 1\ndelegates: []\n",
                          "keel_device: 1\nname: x\ndelegates: [{id: npu}]\n",
                          "keel_device: 1\nname: x\ndelegates: [{id: npu, ops: [Conv], limits: {max_kernal: 3}}]\n",
                          "keel_device: 1\nname: x\ndelegates: [{id: a, ops: [Conv]}, {id: a, ops: [Relu]}]\n",
                          "keel_device: 2\nname: x\n", "name: x\n"}) {
    auto r = parse_device_profile(bad, "bad.yaml");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("bad.yaml"), std::string::npos);
    }
  }
}

}  // namespace
}  // namespace keel::edge
