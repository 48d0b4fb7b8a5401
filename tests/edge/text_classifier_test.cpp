// The edge layer against oracles made elsewhere: the featurizer and the classifier's
// probabilities against the Python training recipe's numpy forward pass
// (tests/edge/data/featurizer_oracle.json), the held-out split's accuracy against the recipe's
// report, and signed manifests against tampering and the wrong key.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/hash.h"
#include "core/json.h"
#include "core/key_file.h"
#include "edge/model_manifest.h"
#include "edge/text_classifier.h"
#include "edge/text_features.h"
#include "support/test_support.h"

namespace keel::edge {
namespace {

Json load_json(const std::string& path) {
  auto j = parse_json(testing::read_file(path));
  EXPECT_TRUE(j.ok()) << path;
  return j.ok() ? *j : Json();
}

std::string models_dir() { return testing::source_dir() + "/models/doc-classifier"; }

Ed25519PublicKey demo_signer() {
  auto key = read_ed25519_key_file(
      testing::source_dir() + "/examples/browser-classifier/demo-publisher-key.json",
      kModelSigningKeyFile);
  EXPECT_TRUE(key.ok()) << key.status().message();
  return key.ok() ? key->keys.public_key : Ed25519PublicKey{};
}

TEST(TextFeatures, MatchTheTrainingRecipeOracleBitForBit) {
  Json oracle = load_json(testing::source_dir() + "/tests/edge/data/featurizer_oracle.json");
  auto spec = parse_hashed_bow_spec(oracle["featurizer"]);
  ASSERT_TRUE(spec.ok()) << spec.status().message();
  int checked = 0;
  for (const char* set : {"documents", "edge_cases"}) {
    for (const auto& doc : oracle[set]) {
      const std::string text = doc["text"].get<std::string>();
      std::vector<float> x = hashed_bow_features(text, *spec);
      ASSERT_EQ(x.size(), static_cast<size_t>(spec->dims));
      std::vector<int64_t> idx = doc["indices"].get<std::vector<int64_t>>();
      std::vector<double> val = doc["values"].get<std::vector<double>>();
      size_t nonzero = 0;
      for (float v : x) nonzero += v != 0.0f;
      EXPECT_EQ(nonzero, idx.size()) << set << ": " << text.substr(0, 60);
      for (size_t i = 0; i < idx.size(); ++i)
        EXPECT_EQ(x[idx[i]], static_cast<float>(val[i])) << "feature " << idx[i];
      ++checked;
    }
  }
  EXPECT_GE(checked, 20);
}

TEST(TextFeatures, TokensAreCaseFoldedAndCutAtMaxTokens) {
  HashedBowSpec spec{64, 2};
  EXPECT_EQ(hashed_bow_features("Invoice TOTAL", spec), hashed_bow_features("invoice total", spec));
  // Only the first two tokens count.
  EXPECT_EQ(hashed_bow_features("a b c d", spec), hashed_bow_features("a b", spec));
  EXPECT_NE(hashed_bow_features("a b", spec), hashed_bow_features("a c", spec));
  for (float v : hashed_bow_features("", spec)) EXPECT_EQ(v, 0.0f);
  EXPECT_EQ(fnv1a32(""), 2166136261u);
  EXPECT_EQ(fnv1a32("a"), 0xe40c292cu);  // the published FNV-1a test vector
}

TEST(TextClassifier, MatchesTheRecipesProbabilitiesAndHeldOutAccuracy) {
  auto clf = TextClassifier::load(models_dir() + "/manifest.json", demo_signer());
  ASSERT_TRUE(clf.ok()) << clf.status().message();
  Json oracle = load_json(testing::source_dir() + "/tests/edge/data/featurizer_oracle.json");
  for (const auto& doc : oracle["documents"]) {
    auto c = clf->classify(doc["text"].get<std::string>());
    ASSERT_TRUE(c.ok()) << c.status().message();
    auto want = doc["probabilities"].get<std::vector<double>>();
    ASSERT_EQ(c->probabilities.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(c->probabilities[i], want[i], 1e-5);
  }
  // The whole held-out split, through Keel's own runtime: the accuracy the recipe reports.
  Json report = load_json(models_dir() + "/training-report.json");
  std::ifstream heldout(testing::source_dir() + "/examples/browser-classifier/heldout.jsonl");
  std::string line;
  int total = 0, right = 0;
  while (std::getline(heldout, line)) {
    Json doc = *parse_json(line);
    auto c = clf->classify(doc["text"].get<std::string>());
    ASSERT_TRUE(c.ok());
    right += c->label == doc["label"].get<std::string>();
    ++total;
  }
  ASSERT_EQ(total, report["heldout_size"].get<int>());
  EXPECT_NEAR(static_cast<double>(right) / total, report["heldout_accuracy"].get<double>(), 1e-6);
}

TEST(TextClassifier, RefusesTextThatIsNotUtf8) {
  auto clf = TextClassifier::load(models_dir() + "/manifest.json", demo_signer());
  ASSERT_TRUE(clf.ok());
  EXPECT_EQ(clf->classify("caf\xc3").status().code(), StatusCode::invalid_argument);
}

class SignedModel : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = tmp_.path();
    key_ = Ed25519KeyFile{"tests", ed25519_generate(), false};
    auto source = std::filesystem::directory_iterator(models_dir());
    for (const auto& e : source) {
      if (e.path().filename().string().starts_with("sha256-")) model_ = e.path().string();
    }
    ASSERT_FALSE(model_.empty());
    auto published = publish_model(model_, key_, dir_ + "/out");
    ASSERT_TRUE(published.ok()) << published.status().message();
    published_ = *published;
  }
  testing::TempDir tmp_;
  std::string dir_, model_;
  Ed25519KeyFile key_;
  PublishedModel published_;
};

TEST_F(SignedModel, PublishesUnderItsHashAndVerifies) {
  const std::string bytes = testing::read_file(model_);
  EXPECT_EQ(published_.model_path,
            dir_ + "/out/sha256-" + sha256_hex(bytes) + ".onnx");
  EXPECT_EQ(published_.manifest.labels,
            (std::vector<std::string>{"invoice", "contract", "cv", "report", "letter", "other"}));
  EXPECT_EQ(published_.manifest.featurizer.dims, 4096);
  EXPECT_EQ(published_.manifest.inputs[0]["shape"], Json::parse(R"(["batch", 4096])"));
  auto verified = verify_published_model(published_.manifest_path, key_.keys.public_key);
  ASSERT_TRUE(verified.ok()) << verified.status().message();
  EXPECT_EQ(verified->model_bytes, bytes);
}

TEST_F(SignedModel, OneFlippedByteInTheModelIsRefused) {
  std::string bytes = testing::read_file(published_.model_path);
  bytes[bytes.size() / 2] ^= 0x01;
  testing::write_file(published_.model_path, bytes);
  auto verified = verify_published_model(published_.manifest_path, key_.keys.public_key);
  EXPECT_EQ(verified.status().code(), StatusCode::data_loss);
  EXPECT_NE(verified.status().message().find("does not hash"), std::string::npos);
  EXPECT_FALSE(TextClassifier::load(published_.manifest_path, key_.keys.public_key).ok());
}

TEST_F(SignedModel, AnotherKeyOrAnAlteredPayloadIsRefused) {
  auto other = ed25519_generate();
  EXPECT_EQ(verify_published_model(published_.manifest_path, other.public_key).status().code(),
            StatusCode::permission_denied);
  // The payload edited (a label renamed) with the signature kept.
  SignedManifest altered = published_.signed_manifest;
  const auto at = altered.payload.find("\"letter\"");
  ASSERT_NE(at, std::string::npos);
  altered.payload.replace(at, 8, "\"letteR\"");
  testing::write_file(published_.manifest_path, signed_manifest_text(altered));
  auto verified = verify_published_model(published_.manifest_path, key_.keys.public_key);
  EXPECT_EQ(verified.status().code(), StatusCode::permission_denied);
  // The payload re-signed by another key and the key field claiming it: still not the pinned key.
  altered.key = other.public_key;
  altered.signature = ed25519_sign(altered.payload, other.secret_key);
  testing::write_file(published_.manifest_path, signed_manifest_text(altered));
  EXPECT_EQ(verify_published_model(published_.manifest_path, key_.keys.public_key).status().code(),
            StatusCode::permission_denied);
}

TEST_F(SignedModel, AMissingOrTruncatedManifestIsAClearError) {
  testing::write_file(published_.manifest_path, "{\"payload\": \"{}\", \"signa");
  auto verified = verify_published_model(published_.manifest_path, key_.keys.public_key);
  EXPECT_EQ(verified.status().code(), StatusCode::invalid_argument);
  std::filesystem::remove(published_.manifest_path);
  EXPECT_FALSE(verify_published_model(published_.manifest_path, key_.keys.public_key).ok());
}

}  // namespace
}  // namespace keel::edge
