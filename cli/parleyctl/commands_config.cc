// parleyctl apply / get / delete / config resolve / dnc: configuration through config-api.
#include <iomanip>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "cli/parleyctl/cli.h"
#include "common/docs/resource_docs.h"
#include "common/json/struct_convert.h"
#include "common/status/status.h"
#include "parley/v1/config.grpc.pb.h"
#include "services/config-api/resource_kind.h"

namespace parley::cli {
namespace {

using parley::v1::ConfigService;

absl::StatusOr<parley::v1::ResourceKind> KindArg(const std::string& word) {
  std::string kind = word;
  if (!kind.empty() && kind.back() == 's' && !config::ParseKind(kind)) kind.pop_back();  // "agents"
  if (auto k = config::ParseKind(kind)) return *k;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown kind \"", word, "\" (want ", config::KnownKindNames(), ")"));
}

absl::Status Apply(Context& ctx) {
  std::string path = ctx.args().ShortFlag("f", "filename");
  if (path.empty()) return absl::InvalidArgumentError("apply: -f FILE|DIR is required");
  PARLEY_ASSIGN_OR_RETURN(std::vector<docs::ResourceDoc> loaded, docs::LoadResourceDocs(path));
  auto stub = ConfigService::NewStub(ctx.Channel("config"));
  int applied = 0;
  for (const docs::ResourceDoc& doc : docs::OrderForApply(std::move(loaded))) {
    grpc::Status status;
    if (doc.kind == "dnc") {
      parley::v1::AddDncRequest req;
      req.set_number(doc.spec.value("number", ""));
      req.set_campaign(doc.spec.value("campaign", ""));
      req.set_reason(doc.spec.value("reason", ""));
      parley::v1::DncEntry entry;
      status = stub->AddDnc(ctx.Call("config").get(), req, &entry);
    } else {
      parley::v1::UpdateResourceRequest req;
      req.set_allow_missing(true);
      PARLEY_ASSIGN_OR_RETURN(parley::v1::ResourceKind kind, KindArg(doc.kind));
      req.mutable_resource()->set_kind(kind);
      req.mutable_resource()->set_name(doc.name);
      PARLEY_ASSIGN_OR_RETURN(*req.mutable_resource()->mutable_spec(),
                              json::JsonToStruct(doc.spec));
      for (const auto& [k, v] : doc.labels) (*req.mutable_resource()->mutable_labels())[k] = v;
      parley::v1::Resource out;
      status = stub->UpdateResource(ctx.Call("config").get(), req, &out);
    }
    if (!status.ok()) {
      absl::Status s = RpcError(status);
      return absl::Status(s.code(), absl::StrCat(docs::Location(doc), ": ", docs::Reference(doc),
                                                 ": ", s.message()));
    }
    ctx.out() << docs::Reference(doc) << " applied\n";
    ++applied;
  }
  if (applied == 0) ctx.out() << "nothing to apply in " << path << "\n";
  return absl::OkStatus();
}

void ResourceTable(Context& ctx, const std::vector<parley::v1::Resource>& resources) {
  ctx.out() << std::left << std::setw(15) << "KIND" << std::setw(32) << "NAME" << std::setw(9)
            << "VERSION"
            << "ETAG\n";
  for (const auto& r : resources) {
    ctx.out() << std::setw(15) << config::KindName(r.kind()) << std::setw(32) << r.name()
              << std::setw(9) << r.version() << r.etag() << "\n";
  }
}

absl::Status Get(Context& ctx) {
  PARLEY_ASSIGN_OR_RETURN(parley::v1::ResourceKind kind, KindArg(ctx.args().Positional(1)));
  auto stub = ConfigService::NewStub(ctx.Channel("config"));
  std::string name = ctx.args().Positional(2);
  if (!name.empty()) {
    parley::v1::GetResourceRequest req;
    req.set_kind(kind);
    req.set_name(name);
    parley::v1::Resource r;
    grpc::Status s = stub->GetResource(ctx.Call("config").get(), req, &r);
    if (!s.ok()) return RpcError(s);
    ctx.Print(r, [&] { ResourceTable(ctx, {r}); });
    return absl::OkStatus();
  }
  parley::v1::ListResourcesRequest req;
  req.set_kind(kind);
  req.set_filter(ctx.args().Flag("filter"));
  std::vector<parley::v1::Resource> all;
  nlohmann::json list = nlohmann::json::array();
  do {
    parley::v1::ListResourcesResponse resp;
    grpc::Status s = stub->ListResources(ctx.Call("config").get(), req, &resp);
    if (!s.ok()) return RpcError(s);
    for (const auto& r : resp.resources()) {
      all.push_back(r);
      list.push_back(ToJson(r));
    }
    req.mutable_page()->set_page_token(resp.next_page_token());
  } while (!req.page().page_token().empty());
  ctx.PrintJson(list, [&] { ResourceTable(ctx, all); });
  return absl::OkStatus();
}

absl::Status Delete(Context& ctx) {
  PARLEY_ASSIGN_OR_RETURN(parley::v1::ResourceKind kind, KindArg(ctx.args().Positional(1)));
  std::string name = ctx.args().Positional(2);
  if (name.empty()) return absl::InvalidArgumentError("delete: NAME is required");
  parley::v1::DeleteResourceRequest req;
  req.set_kind(kind);
  req.set_name(name);
  google::protobuf::Empty empty;
  grpc::Status s = ConfigService::NewStub(ctx.Channel("config"))
                       ->DeleteResource(ctx.Call("config").get(), req, &empty);
  if (!s.ok()) return RpcError(s);
  ctx.out() << config::KindName(kind) << "/" << name << " deleted\n";
  return absl::OkStatus();
}

absl::Status Resolve(Context& ctx) {
  parley::v1::GetRuntimeConfigRequest req;
  req.set_agent(ctx.args().Flag("agent"));
  req.set_campaign(ctx.args().Flag("campaign"));
  if (req.agent().empty()) return absl::InvalidArgumentError("config resolve: --agent is required");
  parley::v1::RuntimeConfig config;
  grpc::Status s = ConfigService::NewStub(ctx.Channel("config"))
                       ->GetRuntimeConfig(ctx.Call("config").get(), req, &config);
  if (!s.ok()) return RpcError(s);
  // Never print a decrypted secret, even to a caller whose token has the service scope.
  if (config.secrets_included()) {
    for (auto& [name, secret] : *config.mutable_credentials()) secret = "(secret: hidden)";
  }
  nlohmann::json j = ToJson(config);
  if (ctx.output() == "table") {
    ctx.out() << j.dump(2) << "\n";
  } else {
    ctx.PrintJson(j, [] {});
  }
  return absl::OkStatus();
}

absl::Status Dnc(Context& ctx) {
  std::string verb = ctx.args().Positional(1);
  std::string number = ctx.args().Positional(2);
  if (number.empty())
    return absl::InvalidArgumentError(absl::StrCat("dnc ", verb, ": NUMBER is required"));
  auto stub = ConfigService::NewStub(ctx.Channel("config"));
  std::string campaign = ctx.args().Flag("campaign");
  grpc::Status s;
  if (verb == "add") {
    parley::v1::AddDncRequest req;
    req.set_number(number);
    req.set_campaign(campaign);
    req.set_reason(ctx.args().Flag("reason", "manual"));
    parley::v1::DncEntry entry;
    s = stub->AddDnc(ctx.Call("config").get(), req, &entry);
    if (s.ok()) ctx.Print(entry, [&] { ctx.out() << number << " added to the DNC list\n"; });
  } else if (verb == "remove") {
    parley::v1::RemoveDncRequest req;
    req.set_number(number);
    req.set_campaign(campaign);
    google::protobuf::Empty empty;
    s = stub->RemoveDnc(ctx.Call("config").get(), req, &empty);
    if (s.ok()) ctx.out() << number << " removed from the DNC list\n";
  } else if (verb == "check") {
    parley::v1::CheckDncRequest req;
    req.set_number(number);
    req.set_campaign(campaign);
    parley::v1::CheckDncResponse resp;
    s = stub->CheckDnc(ctx.Call("config").get(), req, &resp);
    if (s.ok()) {
      ctx.Print(resp, [&] {
        ctx.out() << number
                  << (resp.blocked() ? " is blocked (" + resp.entry().reason() + ")"
                                     : " may be called")
                  << "\n";
      });
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("dnc: unknown verb \"", verb, "\" (want add, remove or check)"));
  }
  return s.ok() ? absl::OkStatus() : RpcError(s);
}

Registrar registrar({
    {{"apply"}, "apply -f FILE|DIR", "create or update resources from YAML/JSON documents", Apply},
    {{"get"}, "get KIND [NAME] [--filter F]", "show one resource or list a kind", Get},
    {{"delete"}, "delete KIND NAME", "delete a resource", Delete},
    {{"config", "resolve"},
     "config resolve --agent A [--campaign C]",
     "the runtime config a worker would get (secrets hidden)",
     Resolve},
    {{"dnc"}, "dnc add|remove|check NUMBER [--campaign C]", "manage the do-not-call list", Dnc},
});

}  // namespace
}  // namespace parley::cli
