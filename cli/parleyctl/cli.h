// parleyctl: the command-line client for Parley (kubectl-like). Logic lives here, in a library
// the tests drive directly; main.cc only calls Run().
//
//   std::ostringstream out, err;
//   int code = parley::cli::Run({"get", "agent", "-o", "json"}, out, err);
//
// Addresses and token come from flags or environment: --config-addr (PARLEY_CONFIG_ADDR),
// --state-addr (PARLEY_STATE_ADDR), --dispatcher-addr (PARLEY_DISPATCHER_ADDR), --token
// (PARLEY_TOKEN). Output: -o table (default), json, yaml. Every error exits non-zero with one line
// "parleyctl: <reason>" on stderr.
#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cli/parleyctl/args.h"
#include "common/grpc/client.h"

namespace google::protobuf {
class Message;
}

namespace parley::cli {

// What every command gets: parsed arguments, connections, output streams.
class Context final {
 public:
  Context(Args args, std::ostream& out, std::ostream& err);

  const Args& args() const { return args_; }
  std::ostream& out() { return out_; }
  std::ostream& err() { return err_; }
  const std::string& output() const { return output_; }

  grpcx::ClientOptions Options(const char* which) const;  // "config", "state", "dispatcher"
  std::shared_ptr<grpc::Channel> Channel(const char* which);
  std::unique_ptr<grpc::ClientContext> Call(const char* which,
                                            absl::Duration deadline = absl::Seconds(10)) const;

  // Prints a message (or a JSON value) in the chosen output format; `table` is the table form.
  void Print(const google::protobuf::Message& message, const std::function<void()>& table);
  void PrintJson(const nlohmann::json& value, const std::function<void()>& table);

 private:
  Args args_;
  std::ostream& out_;
  std::ostream& err_;
  std::string output_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> channels_;
};

// A subcommand: `names` are the words that select it ("get", or "dnc add"), `run` returns OK or an
// error whose message becomes the one-line reason.
struct Command {
  std::vector<std::string> words;
  std::string usage;    // "get KIND [NAME] [-o json|yaml|table]"
  std::string summary;  // one line for `parleyctl --help`
  std::function<absl::Status(Context&)> run;
};

// The commands, registered by each commands_*.cc.
std::vector<Command>& Commands();

// Runs parleyctl with `argv` (without the program name); returns the exit code.
int Run(std::vector<std::string> argv, std::ostream& out, std::ostream& err);

// A gRPC failure as a status whose message reads well on one line.
absl::Status RpcError(const grpc::Status& status);

// JSON form of a proto message (lower_snake_case field names).
nlohmann::json ToJson(const google::protobuf::Message& message);

// Registers commands at static-initialisation time: `static Registrar r({...});`.
struct Registrar {
  explicit Registrar(std::vector<Command> commands);
};

}  // namespace parley::cli
