using System.Text.Json;
using System.Text.Json.Serialization;
using RsMoe.Model.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Lora;

/// <summary>PEFT's <c>adapter_config.json</c>, the fields this project reads and writes.</summary>
public sealed record PeftAdapterConfig
{
    [JsonPropertyName("peft_type")] public string PeftType { get; init; } = "LORA";
    [JsonPropertyName("task_type")] public string? TaskType { get; init; } = "CAUSAL_LM";
    [JsonPropertyName("r")] public int R { get; init; } = 8;
    [JsonPropertyName("lora_alpha")] public double LoraAlpha { get; init; } = 16;
    [JsonPropertyName("lora_dropout")] public double LoraDropout { get; init; }
    [JsonPropertyName("target_modules")] public IReadOnlyList<string> TargetModules { get; init; } = [];
    [JsonPropertyName("bias")] public string Bias { get; init; } = "none";
    [JsonPropertyName("fan_in_fan_out")] public bool FanInFanOut { get; init; }
    [JsonPropertyName("inference_mode")] public bool InferenceMode { get; init; } = true;
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }
    [JsonPropertyName("base_model_name_or_path")] public string? BaseModelNameOrPath { get; init; }
    [JsonPropertyName("revision")] public string? Revision { get; init; }

    public LoraSettings ToSettings() => new() { R = R, LoraAlpha = LoraAlpha, LoraDropout = LoraDropout, TargetModules = TargetModules };
}

/// <summary>
/// Saves and loads LoRA adapters alone, as PEFT does: <c>adapter_config.json</c> and
/// <c>adapter_model.safetensors</c> with keys <c>base_model.model.{module}.lora_A.weight</c> / <c>lora_B.weight</c>,
/// so an adapter trained here loads with <c>PeftModel.from_pretrained</c> and the reverse.
/// </summary>
public static class PeftAdapter
{
    public const string KeyPrefix = "base_model.model.";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static void Save(nn.Module model, string directory, string? baseModel = null, string taskType = "CAUSAL_LM")
    {
        var layers = LoraInjector.Layers(model).Where(l => l.Layer.Adapter is not null).ToList();
        if (layers.Count == 0) throw new InvalidOperationException("the model has no LoRA adapter to save");
        if (layers.Any(l => l.Layer.IsMerged)) throw new InvalidOperationException("unmerge the adapters before saving them");
        var settings = layers[0].Layer.Adapter!;
        var tensors = new Dictionary<string, Tensor>();
        foreach (var (path, layer) in layers)
        {
            tensors[$"{KeyPrefix}{path}.lora_A.weight"] = layer.LoraA!.weight!;
            tensors[$"{KeyPrefix}{path}.lora_B.weight"] = layer.LoraB!.weight!;
        }
        Directory.CreateDirectory(directory);
        var config = new PeftAdapterConfig
        {
            R = settings.R, LoraAlpha = settings.LoraAlpha, LoraDropout = settings.LoraDropout,
            TargetModules = settings.TargetModules, BaseModelNameOrPath = baseModel, TaskType = taskType,
        };
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(config, Json));
        SafetensorsWriter.Save(Path.Combine(directory, "adapter_model.safetensors"), tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    public static PeftAdapterConfig ReadConfig(string directory)
    {
        string path = Path.Combine(directory, "adapter_config.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"no adapter_config.json in '{directory}'", path);
        var config = JsonSerializer.Deserialize<PeftAdapterConfig>(File.ReadAllText(path))
            ?? throw new InvalidDataException($"{path}: empty adapter config");
        if (config.PeftType != "LORA") throw new NotSupportedException($"{path}: PEFT type '{config.PeftType}' is not LoRA");
        if (config.UseRsLora) throw new NotSupportedException($"{path}: rank-stabilised LoRA is not supported");
        if (config.FanInFanOut) throw new NotSupportedException($"{path}: fan_in_fan_out adapters are not supported");
        return config;
    }

    /// <summary>
    /// Attaches the adapter a directory holds to <paramref name="model"/> and loads its weights. Every layer the
    /// config targets must have weights in the file and every key must name an adapted layer.
    /// </summary>
    public static LoadReport Load(nn.Module model, string directory)
    {
        var config = ReadConfig(directory);
        string file = Path.Combine(directory, "adapter_model.safetensors");
        if (!File.Exists(file)) throw new FileNotFoundException($"no adapter_model.safetensors in '{directory}'", file);
        LoraInjector.Attach(model, config.ToSettings());
        using var checkpoint = CheckpointDirectory.Open(file);
        // PEFT saves without the adapter name; some tools keep ".default".
        var report = StateDictLoader.Load(model, checkpoint, KeyPrefix,
            rename: key => key.Replace(".lora_A.default.", ".lora_A.").Replace(".lora_B.default.", ".lora_B."));
        var adapterMissing = report.Missing.Where(k => k.Contains(".lora_A.") || k.Contains(".lora_B.")).ToList();
        var result = new LoadReport(adapterMissing, report.Unexpected, report.Loaded);
        return result.EnsureComplete($"LoRA adapter from {directory}");
    }
}
