// The Kubernetes manifests in deploy/kubernetes: their structure, and that what they wire to
// (probe paths, the port, metric names in autoscaling queries) is what keel serve provides.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>

#include "support/test_support.h"

namespace keel {
namespace {

YAML::Node manifest(const std::string& name) {
  return YAML::LoadFile(testing::source_dir() + "/deploy/kubernetes/" + name);
}

YAML::Node container(const YAML::Node& deployment) {
  return deployment["spec"]["template"]["spec"]["containers"][0];
}

TEST(Deploy, KustomizationListsEveryManifest) {
  auto k = manifest("kustomization.yaml");
  std::set<std::string> listed;
  for (const auto& r : k["resources"]) listed.insert(r.as<std::string>());
  EXPECT_EQ(listed, (std::set<std::string>{"configmap.yaml", "deployment.yaml", "service.yaml", "scaledobject.yaml"}));
}

TEST(Deploy, ProbesAreWiredToTheServersEndpoints) {
  auto d = manifest("deployment.yaml");
  ASSERT_EQ(d["kind"].as<std::string>(), "Deployment");
  auto c = container(d);
  ASSERT_TRUE(c);
  EXPECT_EQ(c["args"][0].as<std::string>(), "serve");
  EXPECT_EQ(c["ports"][0]["name"].as<std::string>(), "http");
  EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), 8080);
  const std::pair<const char*, const char*> probes[] = {
      {"startupProbe", "/startupz"}, {"readinessProbe", "/readyz"}, {"livenessProbe", "/livez"}};
  for (const auto& [probe, path] : probes) {
    ASSERT_TRUE(c[probe]) << probe;
    EXPECT_EQ(c[probe]["httpGet"]["path"].as<std::string>(), path) << probe;
    EXPECT_EQ(c[probe]["httpGet"]["port"].as<std::string>(), "http") << probe;
  }
  // A slow model load must not get the pod killed: startup allows minutes, liveness waits.
  EXPECT_GE(c["startupProbe"]["periodSeconds"].as<int>() * c["startupProbe"]["failureThreshold"].as<int>(), 120);
  // Readiness drops on the first failure, so draining pods leave the Service quickly.
  EXPECT_EQ(c["readinessProbe"]["failureThreshold"].as<int>(), 1);
  EXPECT_TRUE(c["resources"]["requests"]["cpu"]);
  EXPECT_TRUE(c["resources"]["requests"]["memory"]);
  EXPECT_TRUE(c["resources"]["limits"]["memory"]);
}

TEST(Deploy, TheDrainFitsTheTerminationGracePeriod) {
  auto d = manifest("deployment.yaml");
  auto c = container(d);
  int termination = d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as<int>();
  auto pre_stop = c["lifecycle"]["preStop"]["exec"]["command"];
  ASSERT_TRUE(pre_stop) << "a preStop hook lets endpoints drop the pod before SIGTERM";
  int pre_stop_sleep = std::stoi(pre_stop[pre_stop.size() - 1].as<std::string>());
  int grace = -1;
  for (const auto& a : c["args"]) {
    std::string arg = a.as<std::string>();
    if (arg.rfind("--grace-s=", 0) == 0) grace = std::stoi(arg.substr(10));
  }
  ASSERT_GT(grace, 0) << "--grace-s must be set explicitly";
  EXPECT_LT(pre_stop_sleep + grace, termination) << "SIGKILL would cut the drain short";
  EXPECT_EQ(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as<int>(), 0);
}

TEST(Deploy, TheServiceSelectsThePodsPort) {
  auto d = manifest("deployment.yaml");
  auto s = manifest("service.yaml");
  ASSERT_EQ(s["kind"].as<std::string>(), "Service");
  auto pod_labels = d["spec"]["template"]["metadata"]["labels"];
  for (const auto& kv : s["spec"]["selector"]) {
    ASSERT_TRUE(pod_labels[kv.first.as<std::string>()]) << kv.first.as<std::string>();
    EXPECT_EQ(pod_labels[kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
  }
  EXPECT_EQ(s["spec"]["ports"][0]["targetPort"].as<std::string>(), "http");
  auto match = d["spec"]["selector"]["matchLabels"];
  for (const auto& kv : match) EXPECT_EQ(pod_labels[kv.first.as<std::string>()].as<std::string>(), kv.second.as<std::string>());
}

TEST(Deploy, VolumesMountTheSpecKeysAndModels) {
  auto d = manifest("deployment.yaml");
  auto c = container(d);
  std::set<std::string> declared, mounted;
  for (const auto& v : d["spec"]["template"]["spec"]["volumes"]) declared.insert(v["name"].as<std::string>());
  for (const auto& m : c["volumeMounts"]) {
    mounted.insert(m["name"].as<std::string>());
    EXPECT_TRUE(m["readOnly"].as<bool>()) << m["name"].as<std::string>();
  }
  EXPECT_EQ(declared, mounted);
  EXPECT_EQ(declared, (std::set<std::string>{"spec", "keys", "models"}));
  auto cm = manifest("configmap.yaml");
  EXPECT_TRUE(cm["data"]["llm-service.yaml"]);
}

TEST(Deploy, AutoscalingQueriesUseMetricsTheServerExports) {
  auto so = manifest("scaledobject.yaml");
  ASSERT_EQ(so["kind"].as<std::string>(), "ScaledObject");
  auto d = manifest("deployment.yaml");
  EXPECT_EQ(so["spec"]["scaleTargetRef"]["name"].as<std::string>(), d["metadata"]["name"].as<std::string>());
  EXPECT_GE(so["spec"]["minReplicaCount"].as<int>(), 1);  // never scale to zero: a cold start is minutes
  std::set<std::string> referenced;
  std::regex metric("keel_[a-z_]+");
  bool goodput = false, queue = false;
  for (const auto& t : so["spec"]["triggers"]) {
    EXPECT_EQ(t["type"].as<std::string>(), "prometheus");
    std::string q = t["metadata"]["query"].as<std::string>();
    for (auto it = std::sregex_iterator(q.begin(), q.end(), metric); it != std::sregex_iterator(); ++it) {
      referenced.insert(it->str());
    }
    goodput = goodput || q.find("keel_goodput_ratio") != std::string::npos;
    queue = queue || q.find("keel_requests_waiting") != std::string::npos;
    EXPECT_GT(std::stod(t["metadata"]["threshold"].as<std::string>()), 0);
  }
  EXPECT_TRUE(goodput);
  EXPECT_TRUE(queue);
  // The names exist on a running server's /metrics.
  testing::BackgroundProcess server({testing::keel_binary(), "serve", "--port", "0", "--model",
                                     testing::source_dir() + "/models/keel-tiny-chat.gguf"});
  ASSERT_TRUE(server.wait_for_output("listening on http://")) << server.output();
  std::string url = testing::listening_url(server.output());
  auto metrics = testing::http_request(url, "GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  for (const auto& name : referenced) EXPECT_NE(metrics.body.find("\n" + name + " "), std::string::npos) << name;
}

}  // namespace
}  // namespace keel
