#include "common/ws/testing/ws_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace parley::ws::testing {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string UrlDecode(std::string_view in) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else if (in[i] == '+') {
      out.push_back(' ');
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

class Connection final : public WsServerConnection {
 public:
  Connection(net::io_context& ioc, int fd) : ws_(tcp::socket(ioc)) {
    ws_.next_layer().assign(tcp::v4(), fd);
    // Like the real services: no Nagle delay on small frames.
    beast::error_code ignored;
    ws_.next_layer().set_option(tcp::no_delay(true), ignored);
  }

  bool ReadUpgrade() {
    beast::error_code ec;
    http::read(ws_.next_layer(), buffer_, http_request_, ec);
    if (ec) return false;
    request_.target = std::string(http_request_.target());
    size_t q = request_.target.find('?');
    request_.path = request_.target.substr(0, q);
    if (q != std::string::npos) {
      for (absl::string_view pair :
           absl::StrSplit(absl::string_view(request_.target).substr(q + 1), '&')) {
        std::pair<std::string, std::string> kv = absl::StrSplit(pair, absl::MaxSplits('=', 1));
        request_.query[UrlDecode(kv.first)] = UrlDecode(kv.second);
      }
    }
    for (const auto& field : http_request_) {
      request_.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
          std::string(field.value());
    }
    return true;
  }

  const UpgradeRequest& request() const override { return request_; }

  bool Accept() override {
    beast::error_code ec;
    ws_.accept(http_request_, ec);
    return !ec;
  }

  void Reject(int status, const std::string& body) override {
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, "application/json");
    res.body() = body;
    res.prepare_payload();
    beast::error_code ec;
    http::write(ws_.next_layer(), res, ec);
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
  }

  std::optional<WsMessage> Read() override {
    beast::flat_buffer buffer;
    beast::error_code ec;
    ws_.read(buffer, ec);
    if (ec) return std::nullopt;
    return WsMessage{ws_.got_binary(), beast::buffers_to_string(buffer.data())};
  }

  bool SendText(const std::string& text) override { return Write(false, text); }
  bool SendBinary(const std::string& bytes) override { return Write(true, bytes); }

  void Close(uint16_t code, const std::string& reason) override {
    beast::error_code ec;
    ws_.close(websocket::close_reason(static_cast<websocket::close_code>(code), reason), ec);
  }

  void Drop() override {
    beast::error_code ec;
    ws_.next_layer().shutdown(tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
  }

 private:
  bool Write(bool binary, const std::string& data) {
    beast::error_code ec;
    ws_.binary(binary);
    ws_.write(net::buffer(data), ec);
    return !ec;
  }

  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buffer_;
  http::request<http::string_body> http_request_;
  UpgradeRequest request_;
};

}  // namespace

std::string UpgradeRequest::Header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

std::string UpgradeRequest::Query(const std::string& name) const {
  auto it = query.find(name);
  return it == query.end() ? "" : it->second;
}

WsTestServer::WsTestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
      ::listen(listen_fd_, 16) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("WsTestServer: listen");
    std::abort();
  }
  port_ = ntohs(addr.sin_port);
  accept_thread_ = std::thread([this] { AcceptLoop(); });
}

WsTestServer::~WsTestServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  accept_thread_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    // Unblocks handlers waiting in Read; the sockets themselves close with their connections.
    for (int fd : connection_fds_) ::shutdown(fd, SHUT_RDWR);
    threads.swap(connection_threads_);
  }
  for (std::thread& t : threads) t.join();
}

std::string WsTestServer::url() const { return absl::StrCat("ws://127.0.0.1:", port_); }

void WsTestServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) {
      if (stopping_) return;
      continue;
    }
    ++accepted_;
    absl::MutexLock lock(&mu_);
    connection_fds_.push_back(fd);
    connection_threads_.emplace_back([this, fd] {
      net::io_context ioc;
      Connection connection(ioc, fd);
      if (connection.ReadUpgrade()) handler_(connection);
      // The socket closes here; its fd number may be reused, so forget it first.
      absl::MutexLock lock(&mu_);
      std::erase(connection_fds_, fd);
    });
  }
}

}  // namespace parley::ws::testing
