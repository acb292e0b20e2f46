#include "common/ws/ws_client.h"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status/status.h"

namespace parley::ws {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

absl::StatusOr<WsUrl> ParseWsUrl(std::string_view url) {
  WsUrl out;
  std::string_view rest;
  for (auto [scheme, tls] : {std::pair<std::string_view, bool>{"ws://", false},
                             {"wss://", true},
                             {"http://", false},
                             {"https://", true}}) {
    if (absl::StartsWithIgnoreCase(AbslView(url), AbslView(scheme))) {
      out.tls = tls;
      rest = url.substr(scheme.size());
      break;
    }
  }
  if (rest.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a ws:// or wss:// URL: \"", AbslView(url), "\""));
  }
  size_t slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (out.target.front() == '?') out.target.insert(0, "/");
  size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos && authority.find(']', colon) == std::string_view::npos) {
    out.host = std::string(authority.substr(0, colon));
    out.port = std::string(authority.substr(colon + 1));
  } else {
    out.host = std::string(authority);
    out.port = out.tls ? "443" : "80";
  }
  if (out.host.size() > 2 && out.host.front() == '[')
    out.host = out.host.substr(1, out.host.size() - 2);
  if (out.host.empty() || out.port.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("URL without a host: \"", AbslView(url), "\""));
  }
  return out;
}

std::string UrlEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

namespace {

absl::Status UpgradeRefused(int status, std::string_view body) {
  std::string message = absl::StrCat("WebSocket upgrade refused: HTTP ", status,
                                     body.empty() ? "" : ": ", AbslView(body.substr(0, 300)));
  switch (status) {
    case 400:
    case 404:
      return absl::InvalidArgumentError(message);
    case 401:
      return absl::UnauthenticatedError(message);
    case 402:
    case 403:
      return absl::PermissionDeniedError(message);
    case 429:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::UnavailableError(message);
  }
}

}  // namespace

// All socket work happens on `thread_`, which runs `ioc_`; the public methods post to it and
// exchange messages through `mu_`.
class WebSocketClient::Impl {
 public:
  using PlainWs = websocket::stream<beast::tcp_stream>;
  using TlsWs = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

  explicit Impl(WsOptions options) : options_(std::move(options)), timer_(ioc_) {}

  ~Impl() {
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Connect() {
    PARLEY_ASSIGN_OR_RETURN(url_, ParseWsUrl(options_.url));
    if (url_.tls) {
      ssl_ctx_.emplace(ssl::context::tls_client);
      boost::system::error_code ec;
      if (options_.ca_file.empty()) {
        ssl_ctx_->set_default_verify_paths(ec);
      } else {
        ssl_ctx_->load_verify_file(options_.ca_file, ec);
      }
      if (ec) return absl::FailedPreconditionError(absl::StrCat("TLS trust store: ", ec.message()));
      ssl_ctx_->set_verify_mode(ssl::verify_peer);
      tls_ = std::make_unique<TlsWs>(ioc_, *ssl_ctx_);
      if (!SSL_set_tlsext_host_name(tls_->next_layer().native_handle(), url_.host.c_str())) {
        return absl::InternalError("TLS: cannot set the server name");
      }
      tls_->next_layer().set_verify_callback(ssl::host_name_verification(url_.host));
    } else {
      plain_ = std::make_unique<PlainWs>(ioc_);
    }
    resolver_.emplace(ioc_);
    auto work = net::make_work_guard(ioc_);
    thread_ = std::thread([this] { ioc_.run(); });
    net::post(ioc_, [this] { StartResolve(); });
    work.reset();
    absl::MutexLock lock(&mu_);
    auto connected = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return connect_done_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&connected), options_.connect_timeout)) {
      net::post(ioc_,
                [this] { WithStream([](auto& ws) { beast::get_lowest_layer(ws).cancel(); }); });
      mu_.Await(absl::Condition(&connected));
      return absl::DeadlineExceededError(
          absl::StrCat("WebSocket connect to ", url_.host, ":", url_.port, " timed out"));
    }
    return connect_status_;
  }

  absl::Status Send(bool binary, std::string data) {
    {
      absl::MutexLock lock(&mu_);
      if (!open_) return closed_status_;
    }
    net::post(ioc_, [this, binary, data = std::move(data)]() mutable {
      Enqueue(binary, std::move(data));
    });
    return absl::OkStatus();
  }

  absl::StatusOr<WsMessage> Read(absl::Duration timeout, const speech::CancelFlag* cancel) {
    absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !inbox_.empty() || !open_; };
    for (;;) {
      if (cancel != nullptr && cancel->cancelled()) return absl::CancelledError("read cancelled");
      absl::Time until = deadline;
      // The cancel flag is a plain atomic: look at it every few milliseconds.
      if (cancel != nullptr) until = std::min(until, absl::Now() + absl::Milliseconds(5));
      mu_.AwaitWithDeadline(absl::Condition(&ready), until);
      if (!inbox_.empty()) {
        WsMessage message = std::move(inbox_.front());
        inbox_.pop_front();
        return message;
      }
      if (!open_) return closed_status_;
      if (absl::Now() >= deadline) return absl::DeadlineExceededError("no message in time");
    }
  }

  bool TryRead(WsMessage* message, absl::Status* closed) {
    absl::MutexLock lock(&mu_);
    if (!inbox_.empty()) {
      *message = std::move(inbox_.front());
      inbox_.pop_front();
      return true;
    }
    if (closed != nullptr) *closed = open_ ? absl::OkStatus() : closed_status_;
    return false;
  }

  void Close(absl::Duration timeout) {
    {
      absl::MutexLock lock(&mu_);
      if (!open_) return;
    }
    net::post(ioc_, [this] {
      if (closing_) return;
      closing_ = true;
      WithStream([this](auto& ws) {
        ws.async_close(websocket::close_code::normal, [this](beast::error_code) {
          // The read loop sees the server's reply and records the closure.
          Closed(absl::UnavailableError("closed by the client"));
        });
      });
    });
    absl::MutexLock lock(&mu_);
    auto closed = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !open_; };
    mu_.AwaitWithTimeout(absl::Condition(&closed), timeout);
  }

  bool open() const {
    absl::MutexLock lock(&mu_);
    return open_;
  }
  absl::Status status() const {
    absl::MutexLock lock(&mu_);
    return open_ ? absl::OkStatus() : closed_status_;
  }

 private:
  template <typename F>
  void WithStream(F&& f) {
    if (tls_) {
      f(*tls_);
    } else {
      f(*plain_);
    }
  }

  void FinishConnect(absl::Status status) {
    absl::MutexLock lock(&mu_);
    connect_status_ = status;
    connect_done_ = true;
    open_ = status.ok();
    if (!open_) closed_status_ = status;
  }

  void FailConnect(std::string_view step, const beast::error_code& ec) {
    if (ec == net::error::operation_aborted || ec == beast::error::timeout) {
      FinishConnect(absl::DeadlineExceededError(
          absl::StrCat("WebSocket ", AbslView(step), " to ", url_.host, " timed out")));
      return;
    }
    FinishConnect(absl::UnavailableError(absl::StrCat(
        "WebSocket ", AbslView(step), " to ", url_.host, ":", url_.port, ": ", ec.message())));
  }

  void StartResolve() {
    resolver_->async_resolve(
        url_.host, url_.port, [this](beast::error_code ec, tcp::resolver::results_type results) {
          if (ec) return FailConnect("resolve", ec);
          WithStream([&](auto& ws) {
            auto& tcp_stream = beast::get_lowest_layer(ws);
            tcp_stream.expires_after(
                std::chrono::microseconds(absl::ToInt64Microseconds(options_.connect_timeout)));
            tcp_stream.async_connect(results, [this](beast::error_code ec, const tcp::endpoint&) {
              if (ec) return FailConnect("connect", ec);
              // Small frames (a Finalize, a sentence) must not wait for Nagle + delayed ACK:
              // measured 40 ms per exchange on loopback without this.
              WithStream([](auto& ws) {
                beast::error_code ignored;
                beast::get_lowest_layer(ws).socket().set_option(tcp::no_delay(true), ignored);
              });
              if (tls_) {
                tls_->next_layer().async_handshake(ssl::stream_base::client,
                                                   [this](beast::error_code ec) {
                                                     if (ec)
                                                       return FailConnect("TLS handshake", ec);
                                                     StartUpgrade();
                                                   });
              } else {
                StartUpgrade();
              }
            });
          });
        });
  }

  void StartUpgrade() {
    WithStream([this](auto& ws) {
      ws.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
        req.set(http::field::user_agent, "parley-worker");
        for (const auto& [name, value] : options_.headers) req.set(name, value);
      }));
      std::string host = url_.host;
      if (url_.port != (url_.tls ? "443" : "80")) absl::StrAppend(&host, ":", url_.port);
      ws.async_handshake(response_, host, url_.target, [this](beast::error_code ec) {
        if (ec) {
          int status = response_.result_int();
          if (status != 0 && status != 101) {
            return FinishConnect(UpgradeRefused(status, std::string_view(response_.body())));
          }
          return FailConnect("upgrade", ec);
        }
        WithStream([this](auto& ws) {
          beast::get_lowest_layer(ws).expires_never();
          ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
        });
        FinishConnect(absl::OkStatus());
        last_send_ = std::chrono::steady_clock::now();
        StartRead();
        ArmKeepalive();
      });
    });
  }

  void StartRead() {
    WithStream([this](auto& ws) {
      ws.async_read(read_buffer_, [this](beast::error_code ec, size_t) {
        if (ec) return ReadFailed(ec);
        WsMessage message;
        WithStream([&](auto& ws) { message.binary = ws.got_binary(); });
        message.data = beast::buffers_to_string(read_buffer_.data());
        read_buffer_.consume(read_buffer_.size());
        {
          absl::MutexLock lock(&mu_);
          inbox_.push_back(std::move(message));
        }
        StartRead();
      });
    });
  }

  void ReadFailed(const beast::error_code& ec) {
    if (ec == websocket::error::closed) {
      websocket::close_reason reason;
      WithStream([&](auto& ws) { reason = ws.reason(); });
      Closed(absl::UnavailableError(absl::StrCat(
          "WebSocket closed by the server (code ", static_cast<int>(reason.code),
          reason.reason.empty() ? "" : ": ", std::string(reason.reason.c_str()), ")")));
      return;
    }
    Closed(absl::UnavailableError(absl::StrCat("WebSocket connection lost: ", ec.message())));
  }

  void Closed(absl::Status why) {
    timer_.cancel();
    absl::MutexLock lock(&mu_);
    if (!open_) return;
    open_ = false;
    closed_status_ = std::move(why);
  }

  void Enqueue(bool binary, std::string data) {
    outbox_.push_back({binary, std::move(data)});
    if (!writing_) WriteNext();
  }

  void WriteNext() {
    if (outbox_.empty() || closing_) {
      writing_ = false;
      return;
    }
    writing_ = true;
    last_send_ = std::chrono::steady_clock::now();
    WithStream([this](auto& ws) {
      ws.binary(outbox_.front().binary);
      ws.async_write(net::buffer(outbox_.front().data), [this](beast::error_code ec, size_t) {
        outbox_.pop_front();
        if (ec) {
          writing_ = false;
          Closed(absl::UnavailableError(absl::StrCat("WebSocket write failed: ", ec.message())));
          return;
        }
        WriteNext();
      });
    });
  }

  void ArmKeepalive() {
    if (options_.keepalive_text.empty() || options_.keepalive_interval <= absl::ZeroDuration()) {
      return;
    }
    auto interval =
        std::chrono::microseconds(absl::ToInt64Microseconds(options_.keepalive_interval));
    timer_.expires_at(last_send_ + interval);
    timer_.async_wait([this, interval](beast::error_code ec) {
      if (ec) return;
      if (std::chrono::steady_clock::now() - last_send_ >= interval && !writing_) {
        Enqueue(false, options_.keepalive_text);
      }
      ArmKeepalive();
    });
  }

  const WsOptions options_;
  WsUrl url_;
  net::io_context ioc_;
  std::optional<ssl::context> ssl_ctx_;
  std::unique_ptr<PlainWs> plain_;
  std::unique_ptr<TlsWs> tls_;
  std::optional<tcp::resolver> resolver_;
  websocket::response_type response_;
  beast::flat_buffer read_buffer_;
  net::steady_timer timer_;
  std::thread thread_;

  // I/O thread only.
  std::deque<WsMessage> outbox_;
  bool writing_ = false;
  bool closing_ = false;
  std::chrono::steady_clock::time_point last_send_;

  mutable absl::Mutex mu_;
  bool connect_done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status connect_status_ ABSL_GUARDED_BY(mu_);
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status closed_status_ ABSL_GUARDED_BY(mu_) = absl::UnavailableError("not connected");
  std::deque<WsMessage> inbox_ ABSL_GUARDED_BY(mu_);
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocketClient::~WebSocketClient() {
  if (impl_ != nullptr) impl_->Close(absl::Milliseconds(200));
}

absl::StatusOr<std::unique_ptr<WebSocketClient>> WebSocketClient::Connect(WsOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  PARLEY_RETURN_IF_ERROR(impl->Connect());
  return std::unique_ptr<WebSocketClient>(new WebSocketClient(std::move(impl)));
}

absl::Status WebSocketClient::SendText(std::string text) {
  return impl_->Send(false, std::move(text));
}
absl::Status WebSocketClient::SendBinary(std::string bytes) {
  return impl_->Send(true, std::move(bytes));
}
absl::StatusOr<WsMessage> WebSocketClient::Read(absl::Duration timeout,
                                                const speech::CancelFlag* cancel) {
  return impl_->Read(timeout, cancel);
}
bool WebSocketClient::TryRead(WsMessage* message, absl::Status* closed) {
  return impl_->TryRead(message, closed);
}
void WebSocketClient::Close(absl::Duration timeout) { impl_->Close(timeout); }
bool WebSocketClient::open() const { return impl_->open(); }
absl::Status WebSocketClient::status() const { return impl_->status(); }

}  // namespace parley::ws
