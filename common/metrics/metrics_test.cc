#include "common/metrics/metrics.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

namespace parley::metrics {
namespace {

TEST(MetricsTest, CountersAndHistogramsAppearInScrape) {
  auto metrics = Metrics::Local();
  metrics->Counter("parley_test_total", "help", {{"kind", "a"}}).Increment(3);
  metrics->Counter("parley_test_total", "help", {{"kind", "a"}}).Increment();
  metrics->rpc().Observe("/parley.v1.X/Y", "OK", 0.003);
  std::string text = metrics->Scrape();
  EXPECT_NE(text.find("parley_test_total{kind=\"a\"} 4"), std::string::npos) << text;
  EXPECT_NE(text.find("parley_rpc_requests_total{code=\"OK\",method=\"/parley.v1.X/Y\"} 1"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("parley_rpc_duration_seconds_count{method=\"/parley.v1.X/Y\"} 1"),
            std::string::npos)
      << text;
}

TEST(MetricsTest, ServesOverHttpOnAFreePort) {
  auto metrics = Metrics::Serve("127.0.0.1:0");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  int port = (*metrics)->port();
  ASSERT_GT(port, 0);
  (*metrics)->Counter("parley_http_seen_total", "help").Increment();

  std::string body;
  CURL* curl = curl_easy_init();
  std::string url = "http://127.0.0.1:" + std::to_string(port) + "/metrics";
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 5L);
  curl_easy_setopt(
      curl, CURLOPT_WRITEFUNCTION, +[](char* data, size_t size, size_t n, void* out) {
        static_cast<std::string*>(out)->append(data, size * n);
        return size * n;
      });
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &body);
  CURLcode rc = curl_easy_perform(curl);
  curl_easy_cleanup(curl);
  ASSERT_EQ(rc, CURLE_OK) << curl_easy_strerror(rc);
  EXPECT_NE(body.find("parley_http_seen_total 1"), std::string::npos) << body;
}

}  // namespace
}  // namespace parley::metrics
