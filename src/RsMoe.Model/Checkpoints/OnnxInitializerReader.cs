using System.Text;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>An initializer of an ONNX graph: its name, dtype, shape, and where its bytes are.</summary>
public sealed record OnnxInitializer(string Name, int DataType, long[] Shape, byte[]? RawData, string? ExternalFile, long ExternalOffset, long ExternalLength);

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
        else if (destination.Length > 0)
        {
            throw new NotSupportedException($"ONNX initializer '{init.Name}' stores typed data fields; only raw and external data are read");
        }
        return tensor;
    }

    static OnnxInitializer ParseTensor(byte[] data, int start, int end)
    {
        var dims = new List<long>();
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
        return new OnnxInitializer(name, dataType, dims.ToArray(), raw, location, offset, length);
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
