// OnnxGraphBuilder over onnx::ModelProto (Debian's libonnx_proto). Initializers are written as raw_data,
// which is how every ONNX runtime expects large weights, and names are kept unique across all kinds.
#include "slimpipe/export/onnx_graph_builder.hpp"

#include <ATen/ATen.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <unordered_set>

#include "slimpipe/error.hpp"
#include "slimpipe/io/checked_file.hpp"

namespace slimpipe::exporter {

OnnxAttribute OnnxAttribute::integer(std::string name, std::int64_t v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Int;
  a.i = v;
  return a;
}

OnnxAttribute OnnxAttribute::real(std::string name, float v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Float;
  a.f = v;
  return a;
}

OnnxAttribute OnnxAttribute::integers(std::string name, std::vector<std::int64_t> v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::Ints;
  a.ints = std::move(v);
  return a;
}

OnnxAttribute OnnxAttribute::text(std::string name, std::string v) {
  OnnxAttribute a;
  a.name = std::move(name);
  a.kind = Kind::String;
  a.s = std::move(v);
  return a;
}

struct OnnxGraphBuilder::State {
  onnx::ModelProto model;
  std::unordered_set<std::string> names;
  std::int64_t opset = 0;
};

namespace {

onnx::TensorProto_DataType element_type_of(at::ScalarType t) {
  switch (t) {
    case at::kFloat:
      return onnx::TensorProto_DataType_FLOAT;
    case at::kByte:
      return onnx::TensorProto_DataType_UINT8;
    case at::kChar:
      return onnx::TensorProto_DataType_INT8;
    case at::kInt:
      return onnx::TensorProto_DataType_INT32;
    case at::kLong:
      return onnx::TensorProto_DataType_INT64;
    default:
      throw Error(std::string("ONNX export: initializers must be float32, int8, uint8, int32 or int64, found ") +
                  c10::toString(t));
  }
}

void fill_value_info(onnx::ValueInfoProto* info, const std::string& name, OnnxElementType type,
                     const std::vector<OnnxDim>& shape) {
  info->set_name(name);
  auto* tensor = info->mutable_type()->mutable_tensor_type();
  tensor->set_elem_type(static_cast<std::int32_t>(type));
  auto* dims = tensor->mutable_shape();
  for (const OnnxDim& d : shape) {
    auto* dim = dims->add_dim();
    if (d.name.empty())
      dim->set_dim_value(d.value);
    else
      dim->set_dim_param(d.name);
  }
}

}  // namespace

OnnxGraphBuilder::OnnxGraphBuilder(std::string graph_name, std::int64_t opset) : state_(std::make_unique<State>()) {
  state_->opset = opset;
  // IR 7 introduced opset 13's generation, IR 8 the one of opsets 14-17 (onnx 1.9 .. 1.12).
  state_->model.set_ir_version(opset <= 13 ? 7 : 8);
  auto* import = state_->model.add_opset_import();
  import->set_domain("");
  import->set_version(opset);
  state_->model.mutable_graph()->set_name(std::move(graph_name));
}

OnnxGraphBuilder::~OnnxGraphBuilder() = default;

std::int64_t OnnxGraphBuilder::opset() const { return state_->opset; }

void OnnxGraphBuilder::add_opset_import(const std::string& domain, std::int64_t version) {
  for (const auto& existing : state_->model.opset_import())
    if (existing.domain() == domain) throw Error("ONNX export: opset domain '" + domain + "' imported twice");
  auto* import = state_->model.add_opset_import();
  import->set_domain(domain);
  import->set_version(version);
}

std::string OnnxGraphBuilder::unique_name(const std::string& base) {
  std::string name = base;
  for (int i = 1; !state_->names.insert(name).second; ++i) name = base + "_" + std::to_string(i);
  return name;
}

std::string OnnxGraphBuilder::add_initializer(const std::string& base, const at::Tensor& value) {
  if (!value.defined()) throw Error("ONNX export: initializer '" + base + "' is an undefined tensor");
  const auto type = element_type_of(value.scalar_type());
  at::Tensor t = value.detach().to(at::kCPU).contiguous();
  std::string name = unique_name(base);
  auto* init = state_->model.mutable_graph()->add_initializer();
  init->set_name(name);
  init->set_data_type(type);
  for (std::int64_t d : t.sizes()) init->add_dims(d);
  // raw_data is little endian by spec; x86-64 and aarch64 hosts already are.
  init->set_raw_data(t.data_ptr(), t.numel() * t.element_size());
  return name;
}

std::string OnnxGraphBuilder::add_int64s(const std::string& base, const std::vector<std::int64_t>& values) {
  return add_initializer(base, at::tensor(values, at::kLong));
}

std::string OnnxGraphBuilder::add_scalar(const std::string& base, float value) {
  return add_initializer(base, at::scalar_tensor(value, at::kFloat));
}

std::string OnnxGraphBuilder::add_scalar_int64(const std::string& base, std::int64_t value) {
  return add_initializer(base, at::scalar_tensor(value, at::kLong));
}

std::vector<std::string> OnnxGraphBuilder::add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                                                    const std::string& name, std::size_t num_outputs,
                                                    const std::vector<OnnxAttribute>& attributes,
                                                    const std::string& domain) {
  auto* node = state_->model.mutable_graph()->add_node();
  node->set_op_type(op_type);
  if (!domain.empty()) node->set_domain(domain);
  node->set_name(unique_name(name + "/" + op_type));
  for (const std::string& in : inputs) node->add_input(in);
  std::vector<std::string> outputs;
  for (std::size_t i = 0; i < num_outputs; ++i) {
    outputs.push_back(unique_name(num_outputs == 1 ? name : name + "_out" + std::to_string(i)));
    node->add_output(outputs.back());
  }
  for (const OnnxAttribute& a : attributes) {
    auto* attr = node->add_attribute();
    attr->set_name(a.name);
    switch (a.kind) {
      case OnnxAttribute::Kind::Int:
        attr->set_type(onnx::AttributeProto_AttributeType_INT);
        attr->set_i(a.i);
        break;
      case OnnxAttribute::Kind::Float:
        attr->set_type(onnx::AttributeProto_AttributeType_FLOAT);
        attr->set_f(a.f);
        break;
      case OnnxAttribute::Kind::Ints:
        attr->set_type(onnx::AttributeProto_AttributeType_INTS);
        for (std::int64_t v : a.ints) attr->add_ints(v);
        break;
      case OnnxAttribute::Kind::String:
        attr->set_type(onnx::AttributeProto_AttributeType_STRING);
        attr->set_s(a.s);
        break;
    }
  }
  return outputs;
}

std::string OnnxGraphBuilder::add(const std::string& op_type, const std::vector<std::string>& inputs,
                                  const std::string& name, const std::vector<OnnxAttribute>& attributes) {
  return add_node(op_type, inputs, name, 1, attributes).front();
}

void OnnxGraphBuilder::add_input(const std::string& name, OnnxElementType type, const std::vector<OnnxDim>& shape) {
  if (!state_->names.insert(name).second)
    throw Error("ONNX export: graph input '" + name + "' clashes with an existing name");
  fill_value_info(state_->model.mutable_graph()->add_input(), name, type, shape);
}

void OnnxGraphBuilder::add_output(const std::string& name, OnnxElementType type, const std::vector<OnnxDim>& shape) {
  if (!state_->names.count(name)) throw Error("ONNX export: graph output '" + name + "' is not produced by any node");
  fill_value_info(state_->model.mutable_graph()->add_output(), name, type, shape);
}

void OnnxGraphBuilder::set_producer(const std::string& name, const std::string& version) {
  state_->model.set_producer_name(name);
  state_->model.set_producer_version(version);
}

void OnnxGraphBuilder::set_doc_string(const std::string& doc) { state_->model.set_doc_string(doc); }

std::size_t OnnxGraphBuilder::num_nodes() const { return static_cast<std::size_t>(state_->model.graph().node_size()); }

std::string OnnxGraphBuilder::serialize() const {
  const std::size_t bytes = state_->model.ByteSizeLong();
  if (bytes > static_cast<std::size_t>(INT_MAX))
    throw Error("ONNX export: the model is " + std::to_string(bytes >> 20) +
                " MiB, above protobuf's 2 GiB limit (external data files are not supported)");
  std::string out;
  if (!state_->model.SerializeToString(&out)) throw Error("ONNX export: protobuf serialization failed");
  return out;
}

void OnnxGraphBuilder::save(const std::filesystem::path& path) const { write_file_atomic(path, serialize()); }

}  // namespace slimpipe::exporter
