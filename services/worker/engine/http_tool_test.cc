// CurlHttpPoster against a one-shot HTTP server on a loopback port.
#include "services/worker/engine/http_tool.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

namespace parley::engine {
namespace {

using ::testing::HasSubstr;

// Answers one request with `response` (a whole HTTP response) and keeps what it received.
class OneShotServer {
 public:
  explicit OneShotServer(std::string response) : response_(std::move(response)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(listen(fd_, 1), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~OneShotServer() {
    thread_.join();
    close(fd_);
  }
  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + std::string(path);
  }
  // What the server received; valid after the request finished.
  const std::string& received() const { return received_; }

 private:
  void Serve() {
    int conn = accept(fd_, nullptr, nullptr);
    if (conn < 0) return;
    char buf[4096];
    size_t want = std::string::npos;
    while (received_.size() < want) {
      ssize_t n = read(conn, buf, sizeof buf);
      if (n <= 0) break;
      received_.append(buf, static_cast<size_t>(n));
      size_t end = received_.find("\r\n\r\n");
      if (end != std::string::npos && want == std::string::npos) {
        size_t cl = received_.find("Content-Length: ");
        size_t length = cl == std::string::npos ? 0 : std::stoul(received_.substr(cl + 16));
        want = end + 4 + length;
      }
    }
    (void)!write(conn, response_.data(), response_.size());
    close(conn);
  }

  std::string response_;
  int fd_ = -1;
  int port_ = 0;
  std::string received_;
  std::thread thread_;
};

std::string Response(std::string_view status, std::string_view body) {
  return "HTTP/1.1 " + std::string(status) + "\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" +
         std::string(body);
}

TEST(CurlHttpPosterTest, PostsTheBodyWithHeadersAndReturnsTheResponse) {
  absl::StatusOr<std::string> body;
  {
    OneShotServer server(Response("200 OK", R"({"balance":12})"));
    body = CurlHttpPoster()({.url = server.url("/lookup"),
                             .headers = {{"Authorization", "Bearer tok"}, {"X-Team", "billing"}},
                             .body = R"({"call_id":"c1","id":7})",
                             .timeout = absl::Seconds(5)});
  }
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, R"({"balance":12})");
}

TEST(CurlHttpPosterTest, SendsWhatTheToolSays) {
  std::string received;
  {
    OneShotServer server(Response("200 OK", "{}"));
    ASSERT_TRUE(CurlHttpPoster()({.url = server.url("/lookup"),
                                  .headers = {{"Authorization", "Bearer tok"}},
                                  .body = R"({"call_id":"c1"})",
                                  .timeout = absl::Seconds(5)})
                    .ok());
    // The server thread has written its reply, so `received` is complete once the poster returns.
    received = server.received();
  }
  EXPECT_THAT(received, HasSubstr("POST /lookup HTTP/1.1"));
  EXPECT_THAT(received, HasSubstr("Content-Type: application/json"));
  EXPECT_THAT(received, HasSubstr("Authorization: Bearer tok"));
  EXPECT_THAT(received, HasSubstr(R"({"call_id":"c1"})"));
}

TEST(CurlHttpPosterTest, ErrorsSayWhetherToRetry) {
  {
    OneShotServer server(Response("404 Not Found", "{}"));
    absl::StatusOr<std::string> r = CurlHttpPoster()({.url = server.url("/x"), .body = "{}"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_THAT(r.status().message(), HasSubstr("HTTP 404"));
  }
  {
    OneShotServer server(Response("503 Service Unavailable", "{}"));
    absl::StatusOr<std::string> r = CurlHttpPoster()({.url = server.url("/x"), .body = "{}"});
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  }
  absl::StatusOr<std::string> r = CurlHttpPoster()({.url = "ftp://127.0.0.1/x", .body = "{}"});
  EXPECT_FALSE(r.ok());
}

}  // namespace
}  // namespace parley::engine
