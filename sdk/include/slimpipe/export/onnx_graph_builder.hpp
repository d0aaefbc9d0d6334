// OnnxGraphBuilder: assembles an ONNX graph node by node (initializers, nodes, inputs, outputs) and writes it.
// Protobuf stays behind a pimpl, so exporters (fp32 here, QDQ INT8 later) and plugins need no ONNX headers.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "slimpipe/export.hpp"

namespace slimpipe::exporter {

// TensorProto element types the exporters use (values of onnx.proto's TensorProto.DataType).
enum class OnnxElementType : std::int32_t { Float = 1, UInt8 = 2, Int8 = 3, Int32 = 6, Int64 = 7 };

// One dimension of a graph input/output: a fixed size, or a named dynamic axis ("batch", "sequence").
struct SLIMPIPE_API OnnxDim {
  OnnxDim(std::int64_t size) : value(size) {}             // NOLINT: implicit, so {2, "sequence"} reads naturally
  OnnxDim(const char* param) : name(param) {}             // NOLINT
  OnnxDim(std::string param) : name(std::move(param)) {}  // NOLINT
  std::int64_t value = -1;
  std::string name;  // non-empty: dynamic axis
};

// A node attribute. Only the kinds the exporters emit.
struct SLIMPIPE_API OnnxAttribute {
  enum class Kind { Int, Float, Ints, String };
  static OnnxAttribute integer(std::string name, std::int64_t v);
  static OnnxAttribute real(std::string name, float v);
  static OnnxAttribute integers(std::string name, std::vector<std::int64_t> v);
  static OnnxAttribute text(std::string name, std::string v);

  std::string name;
  Kind kind = Kind::Int;
  std::int64_t i = 0;
  float f = 0.0f;
  std::vector<std::int64_t> ints;
  std::string s;
};

class SLIMPIPE_API OnnxGraphBuilder {
 public:
  // opset: of the default ("ai.onnx") domain. ir_version follows from it (7 for opset 13, 8 above).
  OnnxGraphBuilder(std::string graph_name, std::int64_t opset);
  ~OnnxGraphBuilder();
  OnnxGraphBuilder(const OnnxGraphBuilder&) = delete;
  OnnxGraphBuilder& operator=(const OnnxGraphBuilder&) = delete;

  std::int64_t opset() const;
  // Imports another operator domain (e.g. "com.microsoft") for nodes that use it.
  void add_opset_import(const std::string& domain, std::int64_t version);

  // `base` if no value, initializer or node has that name yet, else base_1, base_2, ...; reserves it.
  std::string unique_name(const std::string& base);

  // A float32 / int8 / uint8 / int32 / int64 CPU-convertible tensor as an initializer (raw_data, little
  // endian) named unique_name(base); returns the name. Other dtypes throw Error.
  std::string add_initializer(const std::string& base, const at::Tensor& value);
  std::string add_int64s(const std::string& base, const std::vector<std::int64_t>& values);  // 1-D
  std::string add_scalar(const std::string& base, float value);                              // 0-D float
  std::string add_scalar_int64(const std::string& base, std::int64_t value);                 // 0-D int64

  // Appends a node (topological order is the caller's); outputs are named unique_name(name + "_out<i>")
  // or unique_name(name) for a single output, with `name` itself made unique for the node. "" inputs
  // stand for omitted optional inputs.
  std::vector<std::string> add_node(const std::string& op_type, const std::vector<std::string>& inputs,
                                    const std::string& name, std::size_t num_outputs = 1,
                                    const std::vector<OnnxAttribute>& attributes = {}, const std::string& domain = "");
  // The one-output form.
  std::string add(const std::string& op_type, const std::vector<std::string>& inputs, const std::string& name,
                  const std::vector<OnnxAttribute>& attributes = {});

  void add_input(const std::string& name, OnnxElementType type, const std::vector<OnnxDim>& shape);
  // Declares an existing value (a node output) as a graph output, with its shape.
  void add_output(const std::string& name, OnnxElementType type, const std::vector<OnnxDim>& shape);
  void set_producer(const std::string& name, const std::string& version);
  void set_doc_string(const std::string& doc);

  std::size_t num_nodes() const;
  // Serialized ModelProto. Throws Error above protobuf's 2 GiB message limit (external data is not written).
  std::string serialize() const;
  // Writes serialize() to `path`; errors name the file.
  void save(const std::filesystem::path& path) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace slimpipe::exporter
