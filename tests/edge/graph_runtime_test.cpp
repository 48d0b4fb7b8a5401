// The portable graph runtime on graphs built in the test (ONNX protobuf written with ONNX's own
// schema), and parse_onnx on bytes that are not a model.
#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <cmath>

#include "core/json.h"
#include "edge/graph_runtime.h"
#include "edge/image_set.h"
#include "edge/onnx_graph.h"
#include "support/test_support.h"

namespace keel::edge {
namespace {

void add_initializer(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims,
                     std::vector<float> values) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(onnx::TensorProto_DataType_FLOAT);
  for (auto d : dims) t->add_dims(d);
  for (float v : values) t->add_float_data(v);
}

void add_io(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
            const std::string& name, std::vector<std::string> dims) {
  auto* v = list->Add();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(onnx::TensorProto_DataType_FLOAT);
  for (const auto& d : dims) {
    auto* dim = tt->mutable_shape()->add_dim();
    if (d[0] >= '0' && d[0] <= '9') {
      dim->set_dim_value(std::stoll(d));
    } else {
      dim->set_dim_param(d);
    }
  }
}

onnx::NodeProto* add_node(onnx::GraphProto* g, const std::string& op,
                          std::vector<std::string> in, std::vector<std::string> out) {
  auto* n = g->add_node();
  n->set_op_type(op);
  for (auto& i : in) n->add_input(i);
  for (auto& o : out) n->add_output(o);
  return n;
}

// x[batch, 3] -> Gemm(W [3, 2], b) -> Relu -> Softmax -> y[batch, 2]
std::string small_model(const std::string& extra_op = "") {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto* op = m.add_opset_import();
  op->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"batch", "3"});
  add_initializer(g, "W", {3, 2}, {1, -1, 2, 0, 0, 1});
  add_initializer(g, "b", {2}, {0.5f, -0.5f});
  add_node(g, "Gemm", {"x", "W", "b"}, {"h"});
  add_node(g, "Relu", {"h"}, {"r"});
  add_node(g, extra_op.empty() ? "Softmax" : extra_op, {"r"}, {"y"});
  add_io(g->mutable_output(), "y", {"batch", "2"});
  return m.SerializeAsString();
}

TEST(GraphRuntime, RunsGemmReluSoftmaxOnABatch) {
  auto g = parse_onnx(small_model());
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto rt = GraphRuntime::prepare(*g);
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  Tensor x{{2, 3}, {1, 1, 1, 0, 2, 0}, {}, false};
  auto out = rt->run({{"x", x}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  // Row 0: h = [1+2+0+0.5, -1+0+1-0.5] = [3.5, -0.5] -> relu [3.5, 0] -> softmax.
  // Row 1: h = [4+0.5, 0-0.5] = [4.5, -0.5] -> relu [4.5, 0].
  const auto& y = (*out)[0];
  ASSERT_EQ(y.shape, (std::vector<int64_t>{2, 2}));
  auto sm = [](float a, float b) { return 1.0 / (1.0 + std::exp(b - a)); };
  EXPECT_NEAR(y.data[0], sm(3.5f, 0.0f), 1e-6);
  EXPECT_NEAR(y.data[1], 1 - sm(3.5f, 0.0f), 1e-6);
  EXPECT_NEAR(y.data[2], sm(4.5f, 0.0f), 1e-6);
}

TEST(GraphRuntime, AnUnsupportedOperatorIsNamedBeforeAnythingRuns) {
  auto g = parse_onnx(small_model("LSTM"));
  ASSERT_TRUE(g.ok());
  auto rt = GraphRuntime::prepare(*g);
  ASSERT_EQ(rt.status().code(), StatusCode::unimplemented);
  EXPECT_NE(rt.status().message().find("LSTM#2"), std::string::npos) << rt.status().message();
}

TEST(GraphRuntime, InputsOfTheWrongShapeOrNameAreRefused) {
  auto rt = GraphRuntime::prepare(*parse_onnx(small_model()));
  ASSERT_TRUE(rt.ok());
  EXPECT_EQ(rt->run({{"x", Tensor{{1, 4}, {1, 2, 3, 4}, {}, false}}}).status().code(),
            StatusCode::invalid_argument);
  EXPECT_EQ(rt->run({{"x", Tensor{{1, 3}, {1, 2}, {}, false}}}).status().code(),
            StatusCode::invalid_argument);
  EXPECT_EQ(rt->run({{"z", Tensor{{1, 3}, {1, 2, 3}, {}, false}}}).status().code(),
            StatusCode::invalid_argument);
  EXPECT_EQ(rt->run({}).status().code(), StatusCode::invalid_argument);
}

TEST(GraphRuntime, BroadcastsAddAndMulLikeNumpy) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"2", "3"});
  add_initializer(g, "row", {3}, {10, 20, 30});
  add_initializer(g, "col", {2, 1}, {2, 3});
  add_node(g, "Add", {"x", "row"}, {"a"});
  add_node(g, "Mul", {"a", "col"}, {"y"});
  add_io(g->mutable_output(), "y", {"2", "3"});
  auto rt = GraphRuntime::prepare(*parse_onnx(m.SerializeAsString()));
  ASSERT_TRUE(rt.ok());
  auto out = rt->run({{"x", Tensor{{2, 3}, {1, 2, 3, 4, 5, 6}, {}, false}}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].data, (std::vector<float>{22, 44, 66, 42, 75, 108}));
}

TEST(OnnxGraph, BytesThatAreNotAModelAreClearErrors) {
  const std::string model = small_model();
  for (size_t cut : {size_t{0}, size_t{5}, model.size() / 2, model.size() - 1}) {
    auto g = parse_onnx(model.substr(0, cut));
    EXPECT_FALSE(g.ok()) << "cut at " << cut;
  }
  EXPECT_FALSE(parse_onnx("GGUF\x03\x00\x00\x00 not an onnx file").ok());
  // A node that reads a value nothing produced.
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"1"});
  add_node(g, "Relu", {"nowhere"}, {"y"});
  add_io(g->mutable_output(), "y", {"1"});
  auto parsed = parse_onnx(m.SerializeAsString());
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("nowhere"), std::string::npos);
  // Data that does not match its shape.
  onnx::ModelProto bad;
  bad.add_opset_import()->set_version(13);
  auto* bg = bad.mutable_graph();
  add_io(bg->mutable_input(), "x", {"3"});
  add_initializer(bg, "W", {3, 3}, {1, 2});
  add_node(bg, "Add", {"x", "W"}, {"y"});
  add_io(bg->mutable_output(), "y", {"3"});
  auto shaped = parse_onnx(bad.SerializeAsString());
  ASSERT_FALSE(shaped.ok());
  EXPECT_NE(shaped.status().message().find("'W'"), std::string::npos) << shaped.status().message();
}

}  // namespace
}  // namespace keel::edge

namespace keel::edge {
namespace {

// Small CNNs (tests/edge/data/make_cnn_oracle.py) against ONNX Runtime's outputs for the same
// file and input (make_cnn_oracle.mjs): every convolution, pooling and activation variant the
// runtime implements, with BatchNormalization folded at preparation.
void expect_matches_onnx_runtime(const std::string& name, int expect_folded) {
  const std::string dir = testing::source_dir() + "/tests/edge/data/";
  auto g = load_onnx(dir + "cnn_" + name + ".onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto rt = GraphRuntime::prepare(*g);
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  EXPECT_EQ(rt->folded_batch_norms(), expect_folded);
  Json input = *parse_json(testing::read_file(dir + "cnn_" + name + ".input.json"));
  Json expected = *parse_json(testing::read_file(dir + "cnn_" + name + ".expected.json"));
  Tensor x;
  x.shape = input["shape"].get<std::vector<int64_t>>();
  for (double v : input["values"]) x.data.push_back(static_cast<float>(v));
  auto out = rt->run({{g->inputs[0].name, x}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  const Tensor& y = (*out)[0];
  EXPECT_EQ(y.shape, expected["shape"].get<std::vector<int64_t>>());
  auto want = expected["values"].get<std::vector<double>>();
  ASSERT_EQ(y.data.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i)
    EXPECT_NEAR(y.data[i], want[i], 1e-4 * (1 + std::abs(want[i]))) << name << " value " << i;
}

TEST(GraphRuntime, AMobileCnnMatchesOnnxRuntimeWithBatchNormFolded) {
  expect_matches_onnx_runtime("mobile", 2);
}

TEST(GraphRuntime, WindowCornerCasesMatchOnnxRuntime) {
  expect_matches_onnx_runtime("windows", 0);
}

TEST(GraphRuntime, AFoldedBatchNormGivesWhatTheUnfoldedOneGives) {
  // The mobile graph with its first BatchNormalization's input also read elsewhere cannot be
  // folded; run both and compare.
  const std::string dir = testing::source_dir() + "/tests/edge/data/";
  auto g = load_onnx(dir + "cnn_mobile.onnx");
  ASSERT_TRUE(g.ok());
  OnnxGraph unfoldable = *g;
  unfoldable.outputs.push_back(ValueInfo{"c1", "float32", {}});  // c1 now has a second reader
  auto folded = GraphRuntime::prepare(*g);
  auto kept = GraphRuntime::prepare(unfoldable);
  ASSERT_TRUE(folded.ok() && kept.ok());
  EXPECT_EQ(kept->folded_batch_norms(), 1);
  Json input = *parse_json(testing::read_file(dir + "cnn_mobile.input.json"));
  Tensor x;
  x.shape = input["shape"].get<std::vector<int64_t>>();
  for (double v : input["values"]) x.data.push_back(static_cast<float>(v));
  auto a = folded->run({{"x", x}});
  auto b = kept->run({{"x", x}});
  ASSERT_TRUE(a.ok() && b.ok());
  for (size_t i = 0; i < (*a)[0].data.size(); ++i)
    EXPECT_NEAR((*a)[0].data[i], (*b)[0].data[i], 1e-4);
}

TEST(GraphRuntime, AClipBoundThatIsNotOneValueIsRefusedByName) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"4"});
  add_initializer(g, "lo", {2}, {0.0f, 1.0f});
  add_node(g, "Clip", {"x", "lo"}, {"y"})->set_name("clamp");
  add_io(g->mutable_output(), "y", {"4"});
  auto rt = GraphRuntime::prepare(*parse_onnx(m.SerializeAsString()));
  ASSERT_TRUE(rt.ok());
  auto out = rt->run({{"x", Tensor{{4}, {-1, 0, 1, 2}, {}, false}}});
  ASSERT_EQ(out.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(out.status().message().find("'clamp' (Clip)"), std::string::npos) << out.status().message();
}

TEST(GraphRuntime, ConvGeometryThatDoesNotFitIsNamed) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"1", "3", "4", "4"});
  add_initializer(g, "w", {2, 2, 3, 3}, std::vector<float>(36, 1.0f));  // 2 in-channels, not 3
  auto* conv = add_node(g, "Conv", {"x", "w"}, {"y"});
  conv->set_name("stem");
  add_io(g->mutable_output(), "y", {"1", "2", "2", "2"});
  auto rt = GraphRuntime::prepare(*parse_onnx(m.SerializeAsString()));
  ASSERT_TRUE(rt.ok());
  auto out = rt->run({{"x", Tensor{{1, 3, 4, 4}, std::vector<float>(48, 1.0f), {}, false}}});
  ASSERT_EQ(out.status().code(), StatusCode::invalid_argument);
  EXPECT_NE(out.status().message().find("'stem' (Conv)"), std::string::npos) << out.status().message();
}

}  // namespace
}  // namespace keel::edge

namespace keel::edge {
namespace {

void add_int8(onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims,
              std::vector<int> values, bool is_signed, bool raw) {
  auto* t = g->add_initializer();
  t->set_name(name);
  t->set_data_type(is_signed ? onnx::TensorProto_DataType_INT8 : onnx::TensorProto_DataType_UINT8);
  for (auto d : dims) t->add_dims(d);
  if (raw) {
    std::string bytes;
    for (int v : values) bytes.push_back(static_cast<char>(v));
    t->set_raw_data(bytes);
  } else {
    for (int v : values) t->add_int32_data(v);
  }
}

TEST(GraphRuntime, QuantizeLinearRoundsHalfToEvenAndSaturates) {
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"8"});
  add_initializer(g, "s", {}, {0.5f});
  add_int8(g, "zu", {}, {10}, /*is_signed=*/false, /*raw=*/true);
  add_int8(g, "zs", {}, {0}, /*is_signed=*/true, /*raw=*/false);
  add_node(g, "QuantizeLinear", {"x", "s", "zu"}, {"qu"});
  add_node(g, "QuantizeLinear", {"x", "s", "zs"}, {"qs"});
  add_node(g, "DequantizeLinear", {"qu", "s", "zu"}, {"du"});
  add_io(g->mutable_output(), "qu", {"8"});
  add_io(g->mutable_output(), "qs", {"8"});
  add_io(g->mutable_output(), "du", {"8"});
  auto rt = GraphRuntime::prepare(*parse_onnx(m.SerializeAsString()));
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  // x / 0.5: 0.5 and 1.5 and -0.5 sit halfway (rounded to even), 1000 and -1000 saturate.
  auto out = rt->run({{"x", Tensor{{8}, {0.25f, 0.75f, -0.25f, 1.0f, 1000.0f, -1000.0f, -6.0f, 2.2f}, {}, false}}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_EQ((*out)[0].data, (std::vector<float>{10, 12, 10, 12, 255, 0, 0, 14}));      // uint8, zero point 10
  EXPECT_EQ((*out)[1].data, (std::vector<float>{0, 2, 0, 2, 127, -128, -12, 4}));      // int8, zero point 0
  EXPECT_EQ((*out)[2].data, (std::vector<float>{0, 1, 0, 1, 122.5f, -5, -5, 2}));      // (q - 10) * 0.5
}

TEST(GraphRuntime, PerChannelInt8WeightsAreDequantizedOnceAtPreparation) {
  // y = x[1, 2] . DQ(Wq[2, 2] per output channel)^T: a Gemm on dequantized int8 weights.
  onnx::ModelProto m;
  m.add_opset_import()->set_version(13);
  auto* g = m.mutable_graph();
  add_io(g->mutable_input(), "x", {"1", "2"});
  add_int8(g, "wq", {2, 2}, {127, -64, 10, 20}, /*is_signed=*/true, /*raw=*/true);
  add_initializer(g, "ws", {2}, {0.01f, 0.5f});
  add_int8(g, "wz", {2}, {0, 0}, /*is_signed=*/true, /*raw=*/true);
  auto* dq = add_node(g, "DequantizeLinear", {"wq", "ws", "wz"}, {"w"});
  auto* axis = dq->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto_AttributeType_INT);
  axis->set_i(0);
  auto* gemm = add_node(g, "Gemm", {"x", "w"}, {"y"});
  auto* trans = gemm->add_attribute();
  trans->set_name("transB");
  trans->set_type(onnx::AttributeProto_AttributeType_INT);
  trans->set_i(1);
  add_io(g->mutable_output(), "y", {"1", "2"});
  auto rt = GraphRuntime::prepare(*parse_onnx(m.SerializeAsString()));
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  EXPECT_EQ(rt->graph().nodes.size(), 1u);  // the DequantizeLinear of constants is gone
  auto out = rt->run({{"x", Tensor{{1, 2}, {1.0f, 2.0f}, {}, false}}});
  ASSERT_TRUE(out.ok()) << out.status().message();
  EXPECT_NEAR((*out)[0].data[0], 1.27f - 1.28f, 1e-6);  // 127 * 0.01 + 2 * (-64 * 0.01)
  EXPECT_NEAR((*out)[0].data[1], 5.0f + 20.0f, 1e-6);   // 10 * 0.5 + 2 * (20 * 0.5)
}

TEST(GraphRuntime, AnInt8VisionModelMatchesOnnxRuntimesInt8Kernels) {
  const std::string repo = testing::source_dir();
  auto g = load_onnx(repo + "/models/vision/keel-vision-int8.onnx");
  ASSERT_TRUE(g.ok()) << g.status().message();
  auto rt = GraphRuntime::prepare(*g);
  ASSERT_TRUE(rt.ok()) << rt.status().message();
  const Json oracle = *parse_json(testing::read_file(repo + "/tests/edge/data/vision_qdq.expected.json"));
  // The canary images, preprocessed as keel.preprocess says.
  auto canary = load_image_set(repo + "/examples/mobile-vision/canary.kimg");
  ASSERT_TRUE(canary.ok()) << canary.status().message();
  int agree = 0;
  double worst = 0;
  for (size_t i = 0; i < oracle["probabilities"].size(); ++i) {
    Tensor x{{1, 1, 32, 32}, std::vector<float>(1024), {}, false};
    const auto pixels = canary->image(i);
    for (size_t j = 0; j < pixels.size(); ++j) x.data[j] = (pixels[j] / 255.0f - 0.5f) / 0.25f;
    auto out = rt->run({{g->inputs[0].name, x}});
    ASSERT_TRUE(out.ok()) << out.status().message();
    const auto& p = (*out)[0].data;
    const auto expected = oracle["probabilities"][i].get<std::vector<float>>();
    for (size_t k = 0; k < p.size(); ++k) worst = std::max(worst, std::abs(double(p[k]) - expected[k]));
    agree += std::max_element(p.begin(), p.end()) - p.begin() ==
             std::max_element(expected.begin(), expected.end()) - expected.begin();
  }
  EXPECT_EQ(agree, 20);
  // ONNX Runtime runs int8 arithmetic (requantizing between layers); Keel runs the QDQ graph's
  // exact quantization in float32: the probabilities differ by a few quantization steps at most.
  EXPECT_LT(worst, 0.05);
}

}  // namespace
}  // namespace keel::edge
