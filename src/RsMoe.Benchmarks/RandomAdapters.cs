using System.Text.Json;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Configs;
using RsMoe.Model.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Benchmarks;

/// <summary>PEFT adapter folders with random weights for a Llama shape: what three Stage II experts look like to the decoder.</summary>
internal static class RandomAdapters
{
    public static string Write(string directory, LlamaConfig config, int rank, long seed)
    {
        Directory.CreateDirectory(directory);
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var tensors = new Dictionary<string, Tensor>();
        int kv = config.KeyValueHeads * config.HeadDimension, q = config.NumAttentionHeads * config.HeadDimension;
        for (int layer = 0; layer < config.NumHiddenLayers; layer++)
        {
            foreach (var (module, input, output) in new[]
            {
                ("self_attn.q_proj", config.HiddenSize, q), ("self_attn.v_proj", config.HiddenSize, kv),
                ("mlp.gate_proj", config.HiddenSize, config.IntermediateSize), ("mlp.up_proj", config.HiddenSize, config.IntermediateSize),
                ("mlp.down_proj", config.IntermediateSize, config.HiddenSize),
            })
            {
                string key = $"{PeftAdapter.KeyPrefix}model.layers.{layer}.{module}";
                tensors[$"{key}.lora_A.weight"] = randn([rank, input], generator: generator).mul_(0.02);
                tensors[$"{key}.lora_B.weight"] = randn([output, rank], generator: generator).mul_(0.02);
            }
        }
        SafetensorsWriter.Save(Path.Combine(directory, "adapter_model.safetensors"), tensors);
        var settings = new PeftAdapterConfig { R = rank, LoraAlpha = 2 * rank, TargetModules = LoraSettings.LlmTargets };
        File.WriteAllText(Path.Combine(directory, "adapter_config.json"), JsonSerializer.Serialize(settings));
        return directory;
    }
}
