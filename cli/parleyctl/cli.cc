#include "cli/parleyctl/cli.h"

#include <yaml-cpp/yaml.h>

#include <iomanip>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc/service_main.h"
#include "common/json/proto_json.h"
#include "common/status/status.h"

namespace parley::cli {
namespace {

YAML::Node ToYaml(const nlohmann::json& j) {
  if (j.is_object()) {
    YAML::Node node(YAML::NodeType::Map);
    for (const auto& [k, v] : j.items()) node[k] = ToYaml(v);
    return node;
  }
  if (j.is_array()) {
    YAML::Node node(YAML::NodeType::Sequence);
    for (const auto& v : j) node.push_back(ToYaml(v));
    return node;
  }
  if (j.is_string()) return YAML::Node(j.get<std::string>());
  if (j.is_boolean()) return YAML::Node(j.get<bool>());
  if (j.is_number_integer()) return YAML::Node(j.get<int64_t>());
  if (j.is_number()) return YAML::Node(j.get<double>());
  return YAML::Node(YAML::NodeType::Null);
}

void PrintHelp(std::ostream& out) {
  out << "parleyctl: command-line client for Parley\n\nCommands:\n";
  for (const Command& c : Commands())
    out << "  " << std::left << std::setw(44) << c.usage << c.summary << "\n";
  out << "\nGlobal flags: --config-addr, --state-addr, --dispatcher-addr (or PARLEY_*_ADDR), "
         "--token (PARLEY_TOKEN), -o table|json|yaml\n";
}

}  // namespace

std::vector<Command>& Commands() {
  static auto* commands = new std::vector<Command>();
  return *commands;
}

Registrar::Registrar(std::vector<Command> commands) {
  for (Command& c : commands) Commands().push_back(std::move(c));
}

Context::Context(Args args, std::ostream& out, std::ostream& err)
    : args_(std::move(args)),
      out_(out),
      err_(err),
      output_(args_.ShortFlag("o", "output", "table")) {}

grpcx::ClientOptions Context::Options(const char* which) const {
  std::string name(which);
  std::string env = "PARLEY_" +
                    std::string(name == "config"  ? "CONFIG"
                                : name == "state" ? "STATE"
                                                  : "DISPATCHER") +
                    "_ADDR";
  std::string fallback = name == "config"  ? "127.0.0.1:50051"
                         : name == "state" ? "127.0.0.1:50052"
                                           : "127.0.0.1:50053";
  return {.address = args_.Flag(name + "-addr", grpcx::EnvOr(env.c_str(), fallback)),
          .token = args_.Flag("token", grpcx::EnvOr("PARLEY_TOKEN", ""))};
}

std::shared_ptr<grpc::Channel> Context::Channel(const char* which) {
  auto& channel = channels_[which];
  if (!channel) channel = grpcx::MakeChannel(Options(which));
  return channel;
}

std::unique_ptr<grpc::ClientContext> Context::Call(const char* which,
                                                   absl::Duration deadline) const {
  return grpcx::MakeContext(Options(which), deadline);
}

nlohmann::json ToJson(const google::protobuf::Message& message) {
  return json::MessageToJson(message);
}

void Context::Print(const google::protobuf::Message& message, const std::function<void()>& table) {
  PrintJson(ToJson(message), table);
}

void Context::PrintJson(const nlohmann::json& value, const std::function<void()>& table) {
  if (output_ == "json") {
    out_ << value.dump(2) << "\n";
  } else if (output_ == "yaml") {
    YAML::Emitter emitter;
    emitter << ToYaml(value);
    out_ << emitter.c_str() << "\n";
  } else {
    table();
  }
}

absl::Status RpcError(const grpc::Status& status) {
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    return absl::UnavailableError(absl::StrCat("service unreachable: ", status.error_message()));
  }
  return FromGrpcStatus(status);
}

int Run(std::vector<std::string> argv, std::ostream& out, std::ostream& err) {
  Args args = Args::FromVector(std::move(argv));
  if (args.positional().empty()) {
    PrintHelp(args.Bool("help") || args.Bool("h") ? out : err);
    return args.Bool("help") || args.Bool("h") ? 0 : 2;
  }
  // The longest registered word sequence that prefixes the positionals selects the command.
  const Command* best = nullptr;
  for (const Command& c : Commands()) {
    if (c.words.size() > args.positional().size()) continue;
    if (!std::equal(c.words.begin(), c.words.end(), args.positional().begin())) continue;
    if (best == nullptr || c.words.size() > best->words.size()) best = &c;
  }
  if (best == nullptr) {
    err << "parleyctl: unknown command \"" << absl::StrJoin(args.positional(), " ")
        << "\" (see parleyctl --help)\n";
    return 2;
  }
  if (args.Bool("help") || args.Bool("h")) {
    out << "Usage: parleyctl " << best->usage << "\n  " << best->summary << "\n";
    return 0;
  }
  Context context(args, out, err);
  std::string output = context.output();
  if (output != "table" && output != "json" && output != "yaml") {
    err << "parleyctl: -o: want table, json or yaml, not \"" << output << "\"\n";
    return 2;
  }
  absl::Status status = best->run(context);
  if (!status.ok()) {
    err << "parleyctl: " << status.message() << "\n";
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}

}  // namespace parley::cli
