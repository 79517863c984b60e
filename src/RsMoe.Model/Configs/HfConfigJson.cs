using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace RsMoe.Model.Configs;

/// <summary>Reads and writes Hugging Face <c>config.json</c> files (snake_case, unknown fields ignored).</summary>
public static class HfConfigJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowReadingFromString,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
    };

    static readonly JsonSerializerOptions WithNulls = new(Options) { DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public static T Read<T>(string path) where T : class
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"no config.json at '{path}'", file);
        return Parse<T>(File.ReadAllText(file), file);
    }

    /// <summary>
    /// Reads a config where fields absent from the file take <paramref name="absentDefaults"/>, the values
    /// the Python class assumes, rather than the record's reference-checkpoint defaults.
    /// </summary>
    public static T Read<T>(string path, T absentDefaults) where T : class
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file)) throw new FileNotFoundException($"no config.json at '{path}'", file);
        return Parse(File.ReadAllText(file), absentDefaults, file);
    }

    public static T Parse<T>(string json, T absentDefaults, string what = "config") where T : class
    {
        // Every property is written, nulls included, so an absent field never falls back to the record's default.
        JsonObject merged = JsonSerializer.SerializeToNode(absentDefaults, WithNulls)!.AsObject();
        JsonNode? given;
        try { given = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }); }
        catch (JsonException e) { throw new InvalidDataException($"{what}: {e.Message}", e); }
        if (given is not JsonObject fields) throw new InvalidDataException($"{what}: not a JSON object");
        foreach (var (name, value) in fields.ToList())
        {
            fields.Remove(name);
            merged[name] = value;
        }
        return Parse<T>(merged.ToJsonString(), what);
    }

    public static T Parse<T>(string json, string what = "config") where T : class
    {
        try
        {
            return JsonSerializer.Deserialize<T>(json, Options) ?? throw new InvalidDataException($"{what}: empty config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{what}: {e.Message}", e);
        }
    }

    /// <summary>Reads a nested section (e.g. <c>vision_config</c>) of a composite config, or the defaults when absent.</summary>
    public static T Section<T>(JsonElement root, string name) where T : class, new() =>
        root.TryGetProperty(name, out var section) && section.ValueKind == JsonValueKind.Object
            ? section.Deserialize<T>(Options) ?? new T()
            : new T();

    public static string Write<T>(T config) => JsonSerializer.Serialize(config, Options);
}
