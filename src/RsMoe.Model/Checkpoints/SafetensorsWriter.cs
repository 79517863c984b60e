using System.Text;
using System.Text.Json;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>Writes tensors as a .safetensors file, one tensor at a time so memory stays flat.</summary>
public static class SafetensorsWriter
{
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        var header = new Dictionary<string, object>(StringComparer.Ordinal);
        if (metadata is { Count: > 0 }) header["__metadata__"] = metadata;
        long offset = 0;
        foreach (var (name, tensor) in items)
        {
            long length = tensor.numel() * tensor.ElementSize;
            header[name] = new Dictionary<string, object>
            {
                ["dtype"] = SafetensorsDType.FromScalarType(tensor.dtype),
                ["shape"] = tensor.shape,
                ["data_offsets"] = new[] { offset, offset + length },
            };
            offset += length;
        }

        byte[] json = JsonSerializer.SerializeToUtf8Bytes(header);
        int padded = (json.Length + 7) / 8 * 8;   // the format aligns the data section to 8 bytes
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        string temp = path + ".tmp";
        using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20))
        {
            stream.Write(BitConverter.GetBytes((long)padded));
            stream.Write(json);
            for (int i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in items)
            {
                using var scope = NewDisposeScope();
                stream.Write(tensor.detach().cpu().contiguous().bytes);
            }
        }
        File.Move(temp, path, overwrite: true);
    }
}
