using RsMoe.Model.Configs;
using RsMoe.Model.Llm;
using RsMoe.Model.QFormer;
using RsMoe.Model.Router;
using RsMoe.Model.Vision;
using static TorchSharp.torch;

namespace RsMoe.Model.Checkpoints;

/// <summary>
/// Loads the parts of a Hugging Face InstructBLIP directory (<c>InstructBlipForConditionalGeneration</c>):
/// <c>vision_model.*</c> into <see cref="EvaVisionModel"/>; <c>qformer.*</c>, <c>query_tokens</c> and
/// <c>language_projection.*</c> into <see cref="VlmEncoder"/>; <c>language_model.*</c> into a Llama.
/// Every load reports missing and unexpected keys and fails on a shape mismatch, naming the key.
/// </summary>
public static class InstructBlipCheckpoint
{
    static readonly string[] VlmPrefixes = ["qformer.", "query_tokens", "language_projection."];

    public static EvaVisionModel LoadVision(string directory, ScalarType dtype = ScalarType.Float32)
    {
        var config = InstructBlipConfig.Load(directory);
        using var checkpoint = CheckpointDirectory.Open(directory);
        var model = Build(() => new EvaVisionModel(config.VisionConfig), dtype);
        StateDictLoader.Load(model, checkpoint, "vision_model.").EnsureComplete($"vision_model from {directory}");
        model.eval();
        return model;
    }

    /// <summary>
    /// The Q-Former, queries and projection from the checkpoint. The router is new in RS-MoE, so a plain
    /// InstructBLIP checkpoint lacks it; its keys are loaded when present (an RS-MoE checkpoint) and reported otherwise.
    /// </summary>
    /// <param name="llmHiddenSize">The experts' width when it differs from the checkpoint's language model
    /// (e.g. Llama-3.2-1B under an InstructBLIP-Vicuna Q-Former): the projection then starts afresh.</param>
    public static (VlmEncoder Encoder, LoadReport Report) LoadVlmEncoder(string directory, RouterConfig? router = null, ScalarType dtype = ScalarType.Float32, int? llmHiddenSize = null)
    {
        var config = InstructBlipConfig.Load(directory);
        using var checkpoint = CheckpointDirectory.Open(directory);
        int width = llmHiddenSize ?? config.TextConfig.HiddenSize;
        bool newProjection = width != config.TextConfig.HiddenSize;
        var encoder = Build(() => new VlmEncoder(config.QformerConfig, config.NumQueryTokens, width, router ?? new RouterConfig()), dtype);
        bool hasRouter = checkpoint.Keys.Any(k => k.StartsWith("router.", StringComparison.Ordinal));
        var fresh = encoder.state_dict().Keys.Where(k => (!hasRouter && k.StartsWith("router.", StringComparison.Ordinal))
            || (newProjection && k.StartsWith("language_projection.", StringComparison.Ordinal))).ToList();
        var report = StateDictLoader.Load(encoder, checkpoint,
            rename: key => (newProjection && key.StartsWith("language_projection.", StringComparison.Ordinal)) ? null
                : VlmPrefixes.Any(p => key.StartsWith(p, StringComparison.Ordinal)) || key.StartsWith("router.", StringComparison.Ordinal) ? key : null,
            ignoreMissing: fresh);
        report.EnsureComplete($"VLM encoder from {directory}");
        encoder.eval();
        return (encoder, report);
    }

    public static LlamaForCausalLM LoadLanguageModel(string directory, ScalarType dtype = ScalarType.Float32)
    {
        var config = InstructBlipConfig.Load(directory).TextConfig;
        using var checkpoint = CheckpointDirectory.Open(directory);
        var lm = LlamaForCausalLM.Create(config, dtype);
        StateDictLoader.Load(lm, checkpoint, "language_model.",
                rename: key => config.TieWordEmbeddings && key == "lm_head.weight" ? null : key)
            .EnsureComplete($"language_model from {directory}");
        return lm;
    }

    static T Build<T>(Func<T> create, ScalarType dtype) => TorchDefaults.WithDefaultDType(dtype, create);
}
