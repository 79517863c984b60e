using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafetensorsEntry(string Name, string DType, long[] Shape, long Begin, long End)
{
    public long ByteLength => End - Begin;
}

/// <summary>
/// Reads a .safetensors file lazily: the header is parsed on open, and each tensor is read from disk
/// straight into its own torch storage, so a file of several GB never exists twice in memory.
/// </summary>
public sealed class SafetensorsFile : IDisposable
{
    const long MaxHeaderBytes = 100L * 1024 * 1024;

    readonly SafeFileHandle _handle;
    readonly long _dataStart;

    public string Path { get; }
    public IReadOnlyDictionary<string, SafetensorsEntry> Entries { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    SafetensorsFile(string path, SafeFileHandle handle, long dataStart,
        Dictionary<string, SafetensorsEntry> entries, Dictionary<string, string> metadata)
    {
        Path = path;
        _handle = handle;
        _dataStart = dataStart;
        Entries = entries;
        Metadata = metadata;
    }

    public static SafetensorsFile Open(string path)
    {
        var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            long fileLength = RandomAccess.GetLength(handle);
            Span<byte> lengthBytes = stackalloc byte[8];
            if (fileLength < 8 || RandomAccess.Read(handle, lengthBytes, 0) != 8)
                throw new InvalidDataException($"{path}: too short to be a safetensors file");
            long headerLength = BitConverter.ToInt64(lengthBytes);
            if (headerLength <= 1 || headerLength > MaxHeaderBytes || 8 + headerLength > fileLength)
                throw new InvalidDataException($"{path}: header length {headerLength} is not valid for a file of {fileLength} bytes");

            var header = new byte[headerLength];
            if (RandomAccess.Read(handle, header, 8) != headerLength)
                throw new InvalidDataException($"{path}: truncated header");

            var (entries, metadata) = ParseHeader(path, header, fileLength - 8 - headerLength);
            return new SafetensorsFile(path, handle, 8 + headerLength, entries, metadata);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    static (Dictionary<string, SafetensorsEntry>, Dictionary<string, string>) ParseHeader(string path, byte[] header, long dataLength)
    {
        var entries = new Dictionary<string, SafetensorsEntry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonDocument document;
        try { document = JsonDocument.Parse(header.AsMemory().TrimEnd((byte)' ')); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON ({e.Message})", e); }

        using (document)
        {
            foreach (var property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    foreach (var item in property.Value.EnumerateObject())
                        metadata[item.Name] = item.Value.GetString() ?? "";
                    continue;
                }
                var value = property.Value;
                string dtype = value.GetProperty("dtype").GetString() ?? "";
                long[] shape = value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                var offsets = value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > dataLength)
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' has data offsets outside the file");
                long expected = shape.Aggregate(1L, (a, b) => checked(a * b)) * SafetensorsDType.ElementSize(dtype);
                if (expected != offsets[1] - offsets[0])
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' holds {offsets[1] - offsets[0]} bytes but its shape and dtype need {expected}");
                entries[property.Name] = new SafetensorsEntry(property.Name, dtype, shape, offsets[0], offsets[1]);
            }
        }
        return (entries, metadata);
    }

    /// <summary>Reads one tensor onto the CPU in its stored dtype, or converted to <paramref name="dtype"/>.</summary>
    public Tensor Read(string name, ScalarType? dtype = null)
    {
        if (!Entries.TryGetValue(name, out var entry))
            throw new KeyNotFoundException($"{Path}: no tensor named '{name}'");
        var stored = SafetensorsDType.ToScalarType(entry.DType);
        var tensor = empty(entry.Shape, stored, CPU);
        try
        {
            ReadInto(entry, tensor);
            if (dtype is { } wanted && wanted != stored)
            {
                var converted = tensor.to_type(wanted);
                tensor.Dispose();
                return converted;
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    /// <summary>Reads an entry's bytes into an existing contiguous CPU tensor of the same dtype and size.</summary>
    public void ReadInto(SafetensorsEntry entry, Tensor destination)
    {
        if (destination.device_type != DeviceType.CPU || !destination.is_contiguous())
            throw new ArgumentException("destination must be a contiguous CPU tensor");
        if (entry.ByteLength == 0) return;
        Span<byte> bytes = destination.bytes;
        if (bytes.Length != entry.ByteLength)
            throw new ArgumentException($"'{entry.Name}': destination holds {bytes.Length} bytes, the file {entry.ByteLength}");
        long position = _dataStart + entry.Begin;
        while (!bytes.IsEmpty)
        {
            int read = RandomAccess.Read(_handle, bytes, position);
            if (read <= 0) throw new EndOfStreamException($"{Path}: truncated data for '{entry.Name}'");
            bytes = bytes[read..];
            position += read;
        }
    }

    public void Dispose() => _handle.Dispose();
}
