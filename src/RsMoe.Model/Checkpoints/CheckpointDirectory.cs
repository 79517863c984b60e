using System.Text.Json;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>
/// The weights of a Hugging Face model directory: one <c>model.safetensors</c>, or shards listed in
/// <c>model.safetensors.index.json</c>, or a single named .safetensors file. Tensors are read on demand.
/// </summary>
public sealed class CheckpointDirectory : IDisposable
{
    readonly Dictionary<string, SafetensorsFile> _files;
    readonly Dictionary<string, SafetensorsFile> _byTensor = new(StringComparer.Ordinal);

    public string Location { get; }
    public IReadOnlyCollection<string> Keys => _byTensor.Keys;

    CheckpointDirectory(string location, Dictionary<string, SafetensorsFile> files)
    {
        Location = location;
        _files = files;
        foreach (var file in files.Values)
            foreach (var name in file.Entries.Keys)
                if (!_byTensor.TryAdd(name, file))
                    throw new InvalidDataException($"{location}: tensor '{name}' appears in more than one shard");
    }

    public static CheckpointDirectory Open(string path)
    {
        if (File.Exists(path)) return new CheckpointDirectory(path, new() { [path] = SafetensorsFile.Open(path) });
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"checkpoint '{path}' does not exist");

        var files = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
        try
        {
            foreach (var shard in ShardNames(path))
                files[shard] = SafetensorsFile.Open(System.IO.Path.Combine(path, shard));
            return new CheckpointDirectory(path, files);
        }
        catch
        {
            foreach (var file in files.Values) file.Dispose();
            throw;
        }
    }

    static IEnumerable<string> ShardNames(string directory)
    {
        foreach (var prefix in new[] { "model", "adapter_model" })
        {
            string index = System.IO.Path.Combine(directory, prefix + ".safetensors.index.json");
            if (File.Exists(index))
            {
                using var document = JsonDocument.Parse(File.ReadAllBytes(index));
                return document.RootElement.GetProperty("weight_map").EnumerateObject()
                    .Select(p => p.Value.GetString()!).Distinct().OrderBy(s => s, StringComparer.Ordinal).ToList();
            }
            if (File.Exists(System.IO.Path.Combine(directory, prefix + ".safetensors")))
                return [prefix + ".safetensors"];
        }
        var any = Directory.GetFiles(directory, "*.safetensors").Select(System.IO.Path.GetFileName).OrderBy(s => s).ToList();
        if (any.Count == 0) throw new FileNotFoundException($"{directory}: no model.safetensors, index or .safetensors file");
        return any!;
    }

    public bool Contains(string key) => _byTensor.ContainsKey(key);

    public SafetensorsEntry Entry(string key) => _byTensor.TryGetValue(key, out var file)
        ? file.Entries[key]
        : throw new KeyNotFoundException($"{Location}: no tensor named '{key}'");

    public Tensor Read(string key, ScalarType? dtype = null) => _byTensor.TryGetValue(key, out var file)
        ? file.Read(key, dtype)
        : throw new KeyNotFoundException($"{Location}: no tensor named '{key}'");

    public void Dispose()
    {
        foreach (var file in _files.Values) file.Dispose();
    }
}
