using System.Text.Json;
using System.Text.Json.Serialization;
using RsMoe.Model.Vision;

namespace RsMoe.Training;

/// <summary>
/// A training run. Stage "stage1" trains the Q-Former and one LLM on whole captions; "stage2" freezes the Q-Former,
/// copies the Stage I LLM into every expert and LoRA-tunes each on its aspect while training the router and gate;
/// "two-stage" runs both; "one-stage" skips Stage I and trains Q-Former, router and expert adapters together.
/// Defaults are the paper's optimiser: AdamW (0.9, 0.999, weight decay 0.05), lr 1e-4, one epoch of linear
/// warm-up, cosine decay, 5 epochs.
/// </summary>
public sealed record TrainingConfig
{
    public string Stage { get; init; } = "two-stage";
    /// <summary>
    /// The synthetic benchmark's folder, or null to train without it. Written even when null, so a saved real-imagery
    /// config reads back without synthetic data rather than with the default folder.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.Never)]
    public string? Data { get; init; } = "data/synth";
    public string? Rsscn7 { get; init; }
    /// <summary>
    /// Zoomed-out views per RSSCN7 training photo: 2×2 mosaics of it and three other photos of its class at its scale,
    /// each at half size, as if seen from twice as high. RSSCN7's classes run from fine to coarse scale and the photos
    /// users bring come at any scale; the training split holds the fine ones. 0 = none.
    /// </summary>
    public int Rsscn7Mosaics { get; init; }
    /// <summary>
    /// Farther views per RSSCN7 training photo: 4×4 mosaics of it and fifteen other photos of its class at its scale,
    /// each at a quarter size, as if seen from four times as high (from scale 2, RSSCN7's coarsest scale, which no
    /// training photo shows). 0 = none.
    /// </summary>
    public int Rsscn7FarMosaics { get; init; }
    /// <summary>
    /// Share of the examples of each single photo that show it turned by quarter turns or mirrored (one orientation
    /// per photo), which the encoder sees as a different view of the same ground (<see cref="TrainingSamples.Turned"/>).
    /// Costs no extra steps; at most one more encoding per photo. 0 = every photo as stored. Measured at 0.5 on the real
    /// recipe (the model card): RSICD and RSSCN7 up a little, UCM-captions down, so the preset leaves it at 0.
    /// </summary>
    public double TurnedViews { get; init; }
    /// <summary>
    /// Share of each example's visual tokens left out at random while training (Stages I and II; a fresh draw every
    /// step): the Q-Former learns to recognise the scene from any part of the photo instead of memorising where things
    /// are in each train photo. Inference always sees every token. 0 = none. Measured at 0.25 with the summary token on
    /// the real recipe (the model card): no better than without, so the preset leaves both off.
    /// </summary>
    public double VisualTokenDropout { get; init; }
    /// <summary>The model's summary token before the visual tokens (<see cref="RsMoe.Model.Moe.RsMoeConfig.VisualSummaryToken"/>); off in the preset, see <see cref="VisualTokenDropout"/>.</summary>
    public bool VisualSummaryToken { get; init; }
    /// <summary>
    /// The shared real-data folder (<c>../shared/data</c>): UCM-captions and RSICD train images with RSIVQA's questions
    /// for Stages I and II, and every caption corpus (less the test references) for Stage 0.
    /// </summary>
    public string? RealData { get; init; }
    /// <summary>Where the caption file's image names resolve; default the data folder itself.</summary>
    public string? Images { get; init; }
    /// <summary>
    /// "resnet18" (its last stage, 7 × 7 × 512), "resnet18-before-last-block" (the last stage before its final residual
    /// block, 7 × 7 × 512: the shipped default's), "resnet18-layer3" (its third stage, 14 × 14 × 256),
    /// "resnet18-tiles2x2" (its last stage on 448 px in four tiles, 14 × 14 × 512), another of
    /// <see cref="ImageBackbone.Names"/>, or "instructblip" (also "instructblip-vision": EVA ViT-g and the Q-Former from
    /// <see cref="InstructBlip"/>).
    /// </summary>
    public string ImageEncoder { get; init; } = "resnet18";
    /// <summary>
    /// The trained model's <see cref="RsMoe.Model.Moe.RsMoeConfig.ImageOrientations"/>: how many orientations of a photo its image encoder
    /// averages at inference. Training itself encodes each view once.
    /// </summary>
    public int ImageOrientations { get; init; } = 1;
    /// <summary>A Hugging Face InstructBLIP folder (vision_model, qformer, query_tokens, language_projection; qformer_tokenizer/vocab.txt).</summary>
    public string? InstructBlip { get; init; }
    /// <summary>A Hugging Face LlamaForCausalLM folder for the experts (Llama-3.2-1B/3B, Vicuna-7B), with its tokenizer.</summary>
    public string? Llm { get; init; }
    /// <summary>Stage I with LoRA on the Q-Former and the LLM (the paper's recipe for pretrained weights) rather than full tuning.</summary>
    public bool Stage1Lora { get; init; }
    public string Output { get; init; } = "runs/default";
    /// <summary>Where image features are cached (content-keyed, so runs can share it); null = <c>feature-cache</c> beside the run folder.</summary>
    public string? FeatureCache { get; init; }
    public int TrainImages { get; init; } = 0;            // 0 = every train image
    public int Epochs { get; init; } = 5;
    public double Stage2Epochs { get; init; } = 5;
    public int BatchSize { get; init; } = 16;
    public int GradientAccumulation { get; init; } = 1;
    public double LearningRate { get; init; } = 1e-4;
    public double Stage2LearningRate { get; init; } = 1e-4;
    public double WeightDecay { get; init; } = 0.05;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double WarmupEpochs { get; init; } = 1;
    public double GradientClip { get; init; } = 1.0;
    /// <summary>Linear layers multiply in bf16 (fp32 weights, norms and loss); see Autocast.</summary>
    public bool Bf16Autocast { get; init; }
    public int CheckpointEvery { get; init; } = 0;         // steps, and at the end of Stage I; 0 = none
    public int Seed { get; init; } = 1;
    public int Experts { get; init; } = 3;
    public bool IncludeVqa { get; init; } = true;
    public int? MaxSteps { get; init; }                   // stops a stage early (tests)
    /// <summary>Stage II's own step budget (the long real-data stage); null = <see cref="MaxSteps"/>.</summary>
    public int? Stage2MaxSteps { get; init; }

    /// <summary>Weight of Stage I's scene loss read from the visual prefix (<see cref="SceneClassifier"/>) beside the caption loss; 0 = none.</summary>
    public double SceneLossWeight { get; init; }
    /// <summary>
    /// Weight of a second Stage I scene loss read from the language model's caption state (the mean of its final hidden
    /// states while it writes the caption, <see cref="CaptionLoss.LossAndCaptionState"/>): the visual prefix can hold
    /// the scene while the words miss it, so this asks the language model itself to carry it; 0 = none.
    /// </summary>
    public double CaptionSceneLossWeight { get; init; }
    /// <summary>
    /// Share of Stage II's loss averaged per example (each example's own mean over its target tokens, then the mean over
    /// the batch) beside the mean over every target token of the batch: an answer of one or two words then counts as
    /// much as a caption of a dozen, where a token mean gives the questions a few per cent of the gradient. 0 = token
    /// mean only, 1 = per example only (<see cref="CaptionLoss.Blended"/>).
    /// </summary>
    public double Stage2PerExampleShare { get; init; }

    /// <summary>Stage 0: epochs of language-model pre-training on caption text (needs <see cref="RealData"/>; 0 = none).</summary>
    public double Stage0Epochs { get; init; }
    public double Stage0LearningRate { get; init; } = 2e-3;
    public int Stage0BatchSize { get; init; } = 32;
    /// <summary>Words seen fewer times than this in the training text become &lt;unk&gt; (typos, one-off names).</summary>
    public int VocabularyMinCount { get; init; } = 1;

    /// <summary>The small model's shape (the trainer builds it from scratch when no pretrained checkpoint is named).</summary>
    public int LlmHiddenSize { get; init; } = 192;
    public int LlmLayers { get; init; } = 4;
    public int LlmIntermediateSize { get; init; } = 512;
    public int QFormerHiddenSize { get; init; } = 128;

    static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, ReadCommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true,
        WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Reads a JSON or YAML (.yaml, .yml) config; keys are snake_case in both.</summary>
    public static TrainingConfig Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"no training config at '{path}'", path);
        string text = File.ReadAllText(path);
        if (path.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                return new YamlDotNet.Serialization.DeserializerBuilder()
                    .WithNamingConvention(YamlDotNet.Serialization.NamingConventions.UnderscoredNamingConvention.Instance)
                    .Build().Deserialize<TrainingConfig>(text) ?? throw new InvalidDataException($"{path}: empty config");
            }
            catch (YamlDotNet.Core.YamlException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
        }
        try { return JsonSerializer.Deserialize<TrainingConfig>(text, Json) ?? throw new InvalidDataException($"{path}: empty config"); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: {e.Message}", e); }
    }

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Named presets: the shipped default (real imagery), the synthetic-only model, synthetic plus RSSCN7, and a seconds-long CI run.</summary>
    public static TrainingConfig Preset(string name) => name switch
    {
        "default" => new TrainingConfig { Stage = "two-stage", Epochs = 8, Stage2Epochs = 4, BatchSize = 16, LearningRate = 2e-3, Stage2LearningRate = 1e-3, TrainImages = 1600, WarmupEpochs = 0.5 },
        "default-rsscn7" => Preset("default") with { Rsscn7 = "../shared/data/rsscn7" },
        // The shipped default: real imagery, Stage 0 on every caption corpus; about 50 minutes here with features cached.
        "real" => new TrainingConfig
        {
            Stage = "two-stage", Data = null, RealData = "../shared/data", Rsscn7 = "../shared/data/rsscn7", ImageEncoder = ImageBackbone.ResNet18BeforeLastBlock,
            Stage0Epochs = 1.5, Stage0LearningRate = 2e-3, Stage0BatchSize = 32, VocabularyMinCount = 2,
            Epochs = 3, Stage2Epochs = 1.5, BatchSize = 32, LearningRate = 1e-3, Stage2LearningRate = 2e-3, WarmupEpochs = 0.05,
            LlmHiddenSize = 256, LlmLayers = 4, LlmIntermediateSize = 688, QFormerHiddenSize = 128, SceneLossWeight = 0.5, Rsscn7Mosaics = 2, Rsscn7FarMosaics = 1,
            ImageOrientations = 8,
        },
        "ci" => new TrainingConfig { Stage = "two-stage", Epochs = 3, Stage2Epochs = 2, BatchSize = 8, LearningRate = 3e-3, Stage2LearningRate = 2e-3, TrainImages = 48, WarmupEpochs = 0.3 },
        _ => throw new ArgumentException($"unknown preset '{name}' (real, default, default-rsscn7, ci)"),
    };
}
