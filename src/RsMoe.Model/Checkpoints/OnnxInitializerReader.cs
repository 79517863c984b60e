using System.Text;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>An initializer of an ONNX graph: its name, dtype, shape, and where its bytes are.</summary>
public sealed record OnnxInitializer(string Name, int DataType, long[] Shape, byte[]? RawData, string? ExternalFile, long ExternalOffset, long ExternalLength)
{
    public float[]? FloatData { get; init; }
}

/// <summary>One attribute of a node: an int, a float, a string or a list of ints.</summary>
public sealed record OnnxAttribute(string Name, long? Int, float? Float, string? Text, long[] Ints);

/// <summary>A node of an ONNX graph.</summary>
public sealed record OnnxNode(string OpType, string[] Inputs, string[] Outputs, IReadOnlyDictionary<string, OnnxAttribute> Attributes)
{
    public long Int(string name, long fallback) => Attributes.TryGetValue(name, out var a) && a.Int is { } v ? v : fallback;
    public float Float(string name, float fallback) => Attributes.TryGetValue(name, out var a) && a.Float is { } v ? v : fallback;
    public long[] Ints(string name, long[] fallback) => Attributes.TryGetValue(name, out var a) && a.Ints.Length > 0 ? a.Ints : fallback;
}

/// <summary>
/// Reads the weights (graph initializers) of an ONNX model, inline or in external data files, with a
/// small protobuf decoder: ModelProto.graph(7) → GraphProto.initializer(5) → TensorProto.
/// </summary>
public static class OnnxInitializerReader
{
    // TensorProto.DataType values used by exported language models.
    const int Float = 1, Int64 = 7, Float16 = 10, Double = 11, Int32 = 6, BFloat16 = 16;

    public static IReadOnlyList<OnnxInitializer> ReadInitializers(string onnxPath)
    {
        byte[] model = File.ReadAllBytes(onnxPath);
        var result = new List<OnnxInitializer>();
        foreach (var (field, graph) in LengthDelimitedFields(model, 0, model.Length))
        {
            if (field != 7) continue;
            foreach (var (graphField, tensor) in LengthDelimitedFields(model, graph.Offset, graph.Offset + graph.Length))
                if (graphField == 5) result.Add(ParseTensor(model, tensor.Offset, tensor.Offset + tensor.Length));
        }
        return result;
    }

    /// <summary>The graph's nodes in order (GraphProto.node, field 1).</summary>
    public static IReadOnlyList<OnnxNode> ReadNodes(string onnxPath)
    {
        byte[] model = File.ReadAllBytes(onnxPath);
        var nodes = new List<OnnxNode>();
        foreach (var (field, graph) in LengthDelimitedFields(model, 0, model.Length))
        {
            if (field != 7) continue;
            foreach (var (graphField, node) in LengthDelimitedFields(model, graph.Offset, graph.Offset + graph.Length))
                if (graphField == 1) nodes.Add(ParseNode(model, node.Offset, node.Offset + node.Length));
        }
        return nodes;
    }

    static OnnxNode ParseNode(byte[] data, int start, int end)
    {
        var inputs = new List<string>();
        var outputs = new List<string>();
        string op = "";
        var attributes = new Dictionary<string, OnnxAttribute>();
        int position = start;
        while (position < end)
        {
            ulong key = ReadVarint(data, ref position);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            if (wire != 2) { Skip(data, ref position, wire); continue; }
            int length = (int)ReadVarint(data, ref position);
            int stop = position + length;
            switch (field)
            {
                case 1: inputs.Add(Encoding.UTF8.GetString(data, position, length)); break;
                case 2: outputs.Add(Encoding.UTF8.GetString(data, position, length)); break;
                case 4: op = Encoding.UTF8.GetString(data, position, length); break;
                case 5:
                    var attribute = ParseAttribute(data, position, stop);
                    attributes[attribute.Name] = attribute;
                    break;
            }
            position = stop;
        }
        return new OnnxNode(op, inputs.ToArray(), outputs.ToArray(), attributes);
    }

    static OnnxAttribute ParseAttribute(byte[] data, int start, int end)
    {
        string name = "";
        long? integer = null;
        float? real = null;
        string? text = null;
        var ints = new List<long>();
        int position = start;
        while (position < end)
        {
            ulong key = ReadVarint(data, ref position);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (field, wire)
            {
                case (1, 2): name = ReadString(data, ref position); break;
                case (2, 5): real = BitConverter.ToSingle(data, position); position += 4; break;
                case (3, 0): integer = (long)ReadVarint(data, ref position); break;
                case (4, 2): text = ReadString(data, ref position); break;
                case (8, 0): ints.Add((long)ReadVarint(data, ref position)); break;
                case (8, 2):
                    {
                        int len = (int)ReadVarint(data, ref position), stop = position + len;
                        while (position < stop) ints.Add((long)ReadVarint(data, ref position));
                        break;
                    }
                default: Skip(data, ref position, wire); break;
            }
        }
        return new OnnxAttribute(name, integer, real, text, ints.ToArray());
    }

    /// <summary>Materialises an initializer as a CPU tensor in its stored dtype.</summary>
    public static Tensor ToTensor(OnnxInitializer init, string onnxPath)
    {
        var dtype = init.DataType switch
        {
            Float => ScalarType.Float32,
            Float16 => ScalarType.Float16,
            BFloat16 => ScalarType.BFloat16,
            Double => ScalarType.Float64,
            Int64 => ScalarType.Int64,
            Int32 => ScalarType.Int32,
            _ => throw new NotSupportedException($"ONNX initializer '{init.Name}' has unsupported data type {init.DataType}"),
        };
        var tensor = empty(init.Shape, dtype, CPU);
        var destination = tensor.bytes;
        if (init.ExternalFile is not null)
        {
            string path = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(onnxPath))!, init.ExternalFile);
            using var handle = File.OpenHandle(path);
            if (init.ExternalLength >= 0 && init.ExternalLength != destination.Length)
                throw new InvalidDataException($"ONNX initializer '{init.Name}': external length {init.ExternalLength} does not match its shape");
            int read = 0;
            while (read < destination.Length)
            {
                int n = RandomAccess.Read(handle, destination[read..], init.ExternalOffset + read);
                if (n <= 0) throw new EndOfStreamException($"{path}: truncated data for '{init.Name}'");
                read += n;
            }
        }
        else if (init.RawData is not null)
        {
            if (init.RawData.Length != destination.Length)
                throw new InvalidDataException($"ONNX initializer '{init.Name}': {init.RawData.Length} bytes for a tensor of {destination.Length}");
            init.RawData.CopyTo(destination);
        }
        else if (init.FloatData is { } floats && dtype == ScalarType.Float32 && floats.Length * 4 == destination.Length)
        {
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(floats.AsSpan()).CopyTo(destination);
        }
        else if (destination.Length > 0)
        {
            throw new NotSupportedException($"ONNX initializer '{init.Name}' stores typed data fields; only raw, float and external data are read");
        }
        return tensor;
    }

    static OnnxInitializer ParseTensor(byte[] data, int start, int end)
    {
        var dims = new List<long>();
        var floats = new List<float>();
        int dataType = 0;
        string name = "";
        byte[]? raw = null;
        string? location = null;
        long offset = 0, length = -1;
        int position = start;
        while (position < end)
        {
            ulong key = ReadVarint(data, ref position);
            int field = (int)(key >> 3), wire = (int)(key & 7);
            switch (field, wire)
            {
                case (1, 0): dims.Add((long)ReadVarint(data, ref position)); break;
                case (1, 2):
                    {
                        int len = (int)ReadVarint(data, ref position), stop = position + len;
                        while (position < stop) dims.Add((long)ReadVarint(data, ref position));
                        break;
                    }
                case (2, 0): dataType = (int)ReadVarint(data, ref position); break;
                case (4, 5): floats.Add(BitConverter.ToSingle(data, position)); position += 4; break;
                case (4, 2):
                    {
                        int len = (int)ReadVarint(data, ref position);
                        for (int k = 0; k < len / 4; k++) floats.Add(BitConverter.ToSingle(data, position + 4 * k));
                        position += len;
                        break;
                    }
                case (8, 2): name = ReadString(data, ref position); break;
                case (9, 2):
                    {
                        int len = (int)ReadVarint(data, ref position);
                        raw = data.AsSpan(position, len).ToArray();
                        position += len;
                        break;
                    }
                case (13, 2):
                    {
                        int len = (int)ReadVarint(data, ref position), stop = position + len;
                        string k = "", v = "";
                        while (position < stop)
                        {
                            ulong entryKey = ReadVarint(data, ref position);
                            if ((entryKey >> 3) == 1) k = ReadString(data, ref position);
                            else if ((entryKey >> 3) == 2) v = ReadString(data, ref position);
                            else Skip(data, ref position, (int)(entryKey & 7));
                        }
                        if (k == "location") location = v;
                        else if (k == "offset") offset = long.Parse(v);
                        else if (k == "length") length = long.Parse(v);
                        break;
                    }
                default: Skip(data, ref position, wire); break;
            }
        }
        return new OnnxInitializer(name, dataType, dims.ToArray(), raw, location, offset, length) { FloatData = floats.Count > 0 ? floats.ToArray() : null };
    }

    static IEnumerable<(int Field, (int Offset, int Length) Span)> LengthDelimitedFields(byte[] data, int start, int end)
    {
        int position = start;
        while (position < end)
        {
            ulong key = ReadVarint(data, ref position);
            int wire = (int)(key & 7);
            if (wire == 2)
            {
                int length = (int)ReadVarint(data, ref position);
                yield return ((int)(key >> 3), (position, length));
                position += length;
            }
            else Skip(data, ref position, wire);
        }
    }

    static ulong ReadVarint(byte[] data, ref int position)
    {
        ulong value = 0;
        for (int shift = 0; shift < 64; shift += 7)
        {
            byte b = data[position++];
            value |= (ulong)(b & 0x7f) << shift;
            if ((b & 0x80) == 0) return value;
        }
        throw new InvalidDataException("malformed protobuf varint");
    }

    static string ReadString(byte[] data, ref int position)
    {
        int length = (int)ReadVarint(data, ref position);
        string s = Encoding.UTF8.GetString(data, position, length);
        position += length;
        return s;
    }

    static void Skip(byte[] data, ref int position, int wire)
    {
        switch (wire)
        {
            case 0: ReadVarint(data, ref position); break;
            case 1: position += 8; break;
            case 2: position += (int)ReadVarint(data, ref position); break;
            case 5: position += 4; break;
            default: throw new InvalidDataException($"unsupported protobuf wire type {wire}");
        }
    }
}
