// Test-only: a WebSocket server on a loopback port (Boost.Beast, one thread per connection) that
// hands each connection to the test's handler. The handler sees the upgrade request (path, query,
// headers), accepts or refuses it with an HTTP status, then reads and writes messages, closes with
// a code, or drops the TCP connection without a close frame. The fake speech providers in
// common/speechws/testing are handlers built on it.
//
//   WsTestServer server([](WsServerConnection& c) {
//     if (c.request().Header("authorization") != "Token k") return c.Reject(401, "bad key");
//     c.Accept();
//     while (auto m = c.Read()) c.SendText(m->data);  // echo
//   });
//   auto ws = WebSocketClient::Connect({.url = server.url() + "/v1/listen"});
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/ws/ws_client.h"

namespace parley::ws::testing {

struct UpgradeRequest {
  std::string target;  // path and query as sent
  std::string path;
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> headers;  // names lower-cased
  // The header's value, "" when absent. `name` is lower case.
  std::string Header(const std::string& name) const;
  // The query parameter's value, "" when absent.
  std::string Query(const std::string& name) const;
};

class WsServerConnection {
 public:
  virtual ~WsServerConnection() = default;
  virtual const UpgradeRequest& request() const = 0;
  // Completes the upgrade; false when the client went away.
  virtual bool Accept() = 0;
  // Answers the upgrade with an HTTP error instead.
  virtual void Reject(int status, const std::string& body) = 0;
  // The next client message; nullopt once the client closed or the connection failed.
  virtual std::optional<WsMessage> Read() = 0;
  virtual bool SendText(const std::string& text) = 0;
  virtual bool SendBinary(const std::string& bytes) = 0;
  // A close frame with `code` and `reason` (then waits for the client's reply).
  virtual void Close(uint16_t code, const std::string& reason) = 0;
  // Closes the TCP connection without a close frame (a crash or network cut).
  virtual void Drop() = 0;
};

class WsTestServer final {
 public:
  using Handler = std::function<void(WsServerConnection&)>;
  // Listens on 127.0.0.1 on a free port. Aborts the test process when it cannot.
  explicit WsTestServer(Handler handler);
  // Shuts every connection down and joins the threads.
  ~WsTestServer();

  // "ws://127.0.0.1:<port>"
  std::string url() const;
  int port() const { return port_; }
  // Connections accepted so far.
  int accepted() const { return accepted_.load(); }

 private:
  void AcceptLoop();

  const Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread accept_thread_;
  absl::Mutex mu_;
  std::vector<std::thread> connection_threads_ ABSL_GUARDED_BY(mu_);
  std::vector<int> connection_fds_ ABSL_GUARDED_BY(mu_);
};

}  // namespace parley::ws::testing
