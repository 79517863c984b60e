using System.Text;

namespace RsMoe.Model.Checkpoints.Gguf;

/// <summary>
/// Writes a GGUF v3 file (ggml's docs/gguf.md): header, metadata key–values, tensor infos, then the tensors, each
/// aligned to <see cref="Alignment"/> bytes. Tensors are encoded one at a time while writing, so memory stays flat.
/// </summary>
public sealed class GgufWriter
{
    public const int Alignment = 32;
    const uint Magic = 0x46554747;   // "GGUF" little-endian
    const uint Version = 3;

    enum ValueType : uint { UInt32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9 }

    /// <param name="Shape">Outermost first, as torch writes it; GGUF stores the reverse (innermost first).</param>
    /// <param name="Values">Called once, when the tensor is written: its values in row-major order.</param>
    public sealed record TensorEntry(string Name, long[] Shape, GgmlType Type, Func<float[]> Values)
    {
        public long RowLength => Shape[^1];
        public long Elements => Shape.Aggregate(1L, (a, b) => a * b);
        public long ByteCount => GgmlEncoding.ByteCount(Type, Elements, RowLength);
    }

    readonly List<(string Key, ValueType Type, Action<BinaryWriter> Write)> metadata = [];
    readonly List<TensorEntry> tensors = [];

    public IReadOnlyList<TensorEntry> Tensors => tensors;

    public GgufWriter Add(string key, string value) => AddKv(key, ValueType.String, w => WriteString(w, value));
    public GgufWriter Add(string key, uint value) => AddKv(key, ValueType.UInt32, w => w.Write(value));
    public GgufWriter Add(string key, int value) => AddKv(key, ValueType.Int32, w => w.Write(value));
    public GgufWriter Add(string key, float value) => AddKv(key, ValueType.Float32, w => w.Write(value));
    public GgufWriter Add(string key, bool value) => AddKv(key, ValueType.Bool, w => w.Write(value));

    public GgufWriter Add(string key, IReadOnlyList<string> values) => AddArray(key, ValueType.String, values.Count, w => { foreach (var v in values) WriteString(w, v); });
    public GgufWriter Add(string key, IReadOnlyList<float> values) => AddArray(key, ValueType.Float32, values.Count, w => { foreach (var v in values) w.Write(v); });
    public GgufWriter Add(string key, IReadOnlyList<int> values) => AddArray(key, ValueType.Int32, values.Count, w => { foreach (var v in values) w.Write(v); });

    public GgufWriter AddTensor(TensorEntry tensor)
    {
        if (tensors.Any(t => t.Name == tensor.Name)) throw new ArgumentException($"tensor '{tensor.Name}' added twice");
        if (Encoding.UTF8.GetByteCount(tensor.Name) > 63) throw new ArgumentException($"tensor name '{tensor.Name}' is longer than GGUF's 63 bytes");
        _ = tensor.ByteCount;   // refuses a shape the type cannot hold now, not halfway through the file
        tensors.Add(tensor);
        return this;
    }

    GgufWriter AddKv(string key, ValueType type, Action<BinaryWriter> write)
    {
        if (metadata.Any(m => m.Key == key)) throw new ArgumentException($"metadata key '{key}' added twice");
        metadata.Add((key, type, write));
        return this;
    }

    GgufWriter AddArray(string key, ValueType elementType, int count, Action<BinaryWriter> write) =>
        AddKv(key, ValueType.Array, w => { w.Write((uint)elementType); w.Write((ulong)count); write(w); });

    /// <summary>Writes to a temporary file beside <paramref name="path"/> and moves it into place, so a failed export leaves no half file.</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        try
        {
            using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
            using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
            {
                w.Write(Magic);
                w.Write(Version);
                w.Write((ulong)tensors.Count);
                w.Write((ulong)metadata.Count);
                foreach (var (key, type, write) in metadata)
                {
                    WriteString(w, key);
                    w.Write((uint)type);
                    write(w);
                }
                long offset = 0;
                foreach (var t in tensors)
                {
                    WriteString(w, t.Name);
                    w.Write((uint)t.Shape.Length);
                    for (int d = t.Shape.Length - 1; d >= 0; d--) w.Write((ulong)t.Shape[d]);
                    w.Write((uint)t.Type);
                    w.Write((ulong)offset);
                    offset = Align(offset + t.ByteCount);
                }
                Pad(w);
                foreach (var t in tensors)
                {
                    var values = t.Values();
                    if (values.Length != t.Elements) throw new InvalidDataException($"tensor '{t.Name}': {values.Length} values for shape [{string.Join(", ", t.Shape)}]");
                    w.Write(GgmlEncoding.Encode(t.Type, values));
                    Pad(w);
                }
            }
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;

    static void Pad(BinaryWriter w)
    {
        w.Flush();
        long position = w.BaseStream.Position;
        for (long i = position; i < Align(position); i++) w.Write((byte)0);
    }

    static void WriteString(BinaryWriter w, string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }
}
