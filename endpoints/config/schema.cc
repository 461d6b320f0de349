// The top of TNG's configuration: add_ingress, add_egress, control_interface (and the legacy
// admin_bind), metric and trace; and the checks that span endpoints (duplicate listen ports).
#include "endpoints/config/schema.h"

#include <cstdint>

#include "core/json.h"
#include "core/json_reader.h"
#include "endpoints/config/schema_parts.h"

namespace tng::config {
namespace {

using internal::Context;
using internal::Listener;
using json::Cat;

absl::StatusOr<ControlOptions> ReadControl(const json::Cursor& c, Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(internal::ExpectKeys(r, {"restful", "ttrpc"}));
  ControlOptions control;
  if (auto restful = r.Optional("restful")) {
    CONFIG_ASSIGN_OR_RETURN(control.restful, internal::ReadListenEndpoint(*restful, ctx, "tcp"));
  }
  if (auto ttrpc = r.Optional("ttrpc")) {
    CONFIG_ASSIGN_OR_RETURN(json::ObjectReader tr, json::ObjectReader::Open(*ttrpc));
    CONFIG_RETURN_IF_ERROR(internal::ExpectKeys(tr, {"path"}));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor path, tr.Required("path"));
    CONFIG_ASSIGN_OR_RETURN(control.ttrpc_path, path.GetNonEmptyString());
    ctx.NotYet(ttrpc->path(), "control interface (ttrpc)");
  }
  return control;
}

// One of metric.exporters (metric = true) or trace.exporters.
absl::StatusOr<ExporterOptions> ReadExporter(const json::Cursor& c, bool metric) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(internal::ExpectKeys(
      r, {"type", "step", "protocol", "endpoint", "headers", "server_url", "tags"}));
  ExporterOptions e;
  CONFIG_ASSIGN_OR_RETURN(json::Cursor type, r.Required("type"));
  // TNG spells the OpenTelemetry exporter "oltp"; its manual says "otlp". Both are accepted.
  if (metric) {
    CONFIG_ASSIGN_OR_RETURN(e.type,
                            internal::ReadChoice(type, {"stdout", "falcon", "oltp", "otlp"}));
  } else {
    CONFIG_ASSIGN_OR_RETURN(e.type, internal::ReadChoice(type, {"stdout", "oltp", "otlp"}));
  }
  if (e.type == "otlp") e.type = "oltp";
  const std::string why =
      Cat("is not used by a ", metric ? "metric" : "trace", " exporter of type \"", e.type, "\"");
  if (!metric) CONFIG_RETURN_IF_ERROR(internal::RejectInapplicable(r, {"step"}, why));
  if (e.type != "falcon") {
    CONFIG_RETURN_IF_ERROR(internal::RejectInapplicable(r, {"server_url", "tags"}, why));
  }
  if (e.type == "stdout") {
    CONFIG_RETURN_IF_ERROR(
        internal::RejectInapplicable(r, {"protocol", "endpoint", "headers"}, why));
  }
  if (e.type == "falcon") {
    CONFIG_RETURN_IF_ERROR(internal::RejectInapplicable(r, {"protocol", "headers"}, why));
    CONFIG_ASSIGN_OR_RETURN(json::Cursor url, r.Required("server_url"));
    CONFIG_ASSIGN_OR_RETURN(e.server_url, url.GetNonEmptyString());
    if (auto tags = r.Optional("tags")) {
      CONFIG_ASSIGN_OR_RETURN(e.tags, tags->GetStringMap());
    }
  }
  if (e.type == "oltp") {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor protocol, r.Required("protocol"));
    CONFIG_ASSIGN_OR_RETURN(e.protocol,
                            internal::ReadChoice(protocol, {"http/protobuf", "http/json", "grpc"}));
    if (auto headers = r.Optional("headers")) {
      CONFIG_ASSIGN_OR_RETURN(e.headers, headers->GetStringMap());
    }
  }
  if (e.type != "stdout") {
    CONFIG_ASSIGN_OR_RETURN(json::Cursor endpoint, r.Required("endpoint"));
    CONFIG_ASSIGN_OR_RETURN(e.endpoint, endpoint.GetNonEmptyString());
  }
  if (metric) {
    // TNG defaults the step of stdout and falcon exporters to 60 s, but requires it for oltp.
    std::optional<json::Cursor> step = r.Optional("step");
    if (!step && e.type == "oltp") return r.MissingError("step");
    if (step) {
      CONFIG_ASSIGN_OR_RETURN(e.step_s, step->GetUnsigned(1, UINT32_MAX));
    }
  }
  return e;
}

absl::StatusOr<std::vector<ExporterOptions>> ReadExporters(const json::Cursor& c, bool metric,
                                                           Context& ctx) {
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(c));
  CONFIG_RETURN_IF_ERROR(internal::ExpectKeys(r, {"exporters"}));
  std::vector<ExporterOptions> exporters;
  if (auto list = r.Optional("exporters")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, list->GetArray());
    for (const json::Cursor& item : items) {
      CONFIG_ASSIGN_OR_RETURN(ExporterOptions e, ReadExporter(item, metric));
      ctx.NotYet(item.path(), Cat(metric ? "metric" : "trace", " exporter ", e.type));
      exporters.push_back(std::move(e));
    }
  }
  return exporters;
}

bool IsWildcard(const std::string& host) {
  return host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]";
}

// Two endpoints may not listen on the same port: the second would fail to bind at start, or
// (with SO_REUSEPORT) silently share the first one's connections.
absl::Status CheckListeners(const json::Document& doc, const std::vector<Listener>& listeners) {
  for (size_t j = 0; j < listeners.size(); ++j) {
    const Listener& b = listeners[j];
    for (size_t i = 0; i < j; ++i) {
      const Listener& a = listeners[i];
      bool same_host = a.host == b.host || IsWildcard(a.host) || IsWildcard(b.host);
      if (a.protocol != b.protocol || !same_host || b.first > a.last || a.first > b.last) continue;
      json::Location where = doc.Locate(a.offset);
      std::string ports = b.first == b.last ? Cat(b.protocol, " port ", b.first)
                                            : Cat(b.protocol, " ports ", b.first, "-", b.last);
      return absl::InvalidArgumentError(Cat(doc.Where(b.offset), ": ", b.json_path, ": ", ports,
                                            " on ", b.host, " is already used by ", a.json_path,
                                            " (line ", where.line, ", column ", where.column, ", ",
                                            a.host, ")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<GatewayOptions> ParseConfig(std::string_view json_text,
                                           std::string_view source_name) {
  CONFIG_ASSIGN_OR_RETURN(json::Document doc, json::Document::Parse(json_text, source_name));
  json::Cursor root(doc, doc.root(), "");
  if (root.kind() != json::Kind::kObject) {
    return root.TypeError("a JSON object at the top level");
  }
  CONFIG_ASSIGN_OR_RETURN(json::ObjectReader r, json::ObjectReader::Open(root));
  CONFIG_RETURN_IF_ERROR(internal::ExpectKeys(
      r, {"add_ingress", "add_egress", "control_interface", "metric", "trace", "admin_bind"}));

  GatewayOptions options;
  std::vector<Listener> listeners;
  Context ctx{&options.unsupported, &listeners};
  if (auto list = r.Optional("add_ingress")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, list->GetArray());
    options.ingress.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      CONFIG_RETURN_IF_ERROR(internal::ReadIngress(items[i], i, ctx, options.ingress[i]));
    }
  }
  if (auto list = r.Optional("add_egress")) {
    CONFIG_ASSIGN_OR_RETURN(std::vector<json::Cursor> items, list->GetArray());
    options.egress.resize(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
      CONFIG_RETURN_IF_ERROR(internal::ReadEgress(items[i], i, ctx, options.egress[i]));
    }
  }
  if (auto control = r.Optional("control_interface")) {
    CONFIG_ASSIGN_OR_RETURN(options.control, ReadControl(*control, ctx));
  }
  // TNG 1.x's admin_bind stands for the control listener unless control_interface.restful is set
  // (TNG 2.x ignores it).
  if (auto admin = r.Optional("admin_bind")) {
    std::vector<Listener> ignored;
    Context admin_ctx{&options.unsupported, options.control.restful ? &ignored : &listeners};
    CONFIG_ASSIGN_OR_RETURN(HostPort bind, internal::ReadListenEndpoint(*admin, admin_ctx, "tcp"));
    if (!options.control.restful) options.control.restful = bind;
  }
  if (auto metric = r.Optional("metric")) {
    CONFIG_ASSIGN_OR_RETURN(options.metric_exporters, ReadExporters(*metric, true, ctx));
  }
  if (auto trace = r.Optional("trace")) {
    CONFIG_ASSIGN_OR_RETURN(options.trace_exporters, ReadExporters(*trace, false, ctx));
  }
  CONFIG_RETURN_IF_ERROR(CheckListeners(doc, listeners));
  return options;
}

std::string DescribeUnsupported(const GatewayOptions& options) {
  std::string out;
  for (const Unsupported& u : options.unsupported) {
    out += Cat(u.json_path, ": ", u.feature, " is not implemented yet\n");
  }
  return out;
}

}  // namespace tng::config
