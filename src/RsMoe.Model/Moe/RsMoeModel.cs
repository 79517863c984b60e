using RsMoe.Captions;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using RsMoe.Model.QFormer;
using RsMoe.Model.Router;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>
/// RS-MoE after the image encoder: the VLM encoder with the router, the Stage I language model, and one expert per
/// role (the Stage I model plus that role's LoRA adapter). Only the modules and their assembly live here:
/// <see cref="ModelFolder"/> loads and saves it, <see cref="InProcessCaptioner"/> captions with it, and the training
/// loss belongs to the trainer.
/// </summary>
public sealed class RsMoeModel : IDisposable
{
    public RsMoeConfig Config { get; }
    public VlmEncoder Encoder { get; }
    public LlamaForCausalLM Base { get; }
    public BertWordPieceTokenizer InstructionTokenizer { get; }
    public ITextTokenizer LlmTokenizer { get; }
    readonly Dictionary<string, LlamaForCausalLM> _experts = new(StringComparer.Ordinal);
    public IReadOnlyDictionary<string, LlamaForCausalLM> Experts => _experts;
    public Device Device { get; }

    /// <summary>
    /// In the shared-base layout (<see cref="Load"/> with <c>sharedBase</c>) the experts are not copies: they are this
    /// bank's adapters over <see cref="Base"/>, and a caption decodes all sections together in one batched pass.
    /// </summary>
    public LoraBank? Bank { get; internal set; }

    /// <summary>Bytes of language-model weights held: the base, every expert copy, and the bank.</summary>
    public long LanguageModelBytes =>
        new[] { Base }.Concat(_experts.Values).Sum(lm => lm.parameters().Sum(p => p.numel() * p.element_size())) + (Bank?.Bytes ?? 0);

    internal RsMoeModel(RsMoeConfig config, VlmEncoder encoder, LlamaForCausalLM llm, BertWordPieceTokenizer instructions, ITextTokenizer llmTokenizer, Device device)
    {
        Config = config;
        Encoder = encoder;
        Base = llm;
        InstructionTokenizer = instructions;
        LlmTokenizer = llmTokenizer;
        Device = device;
    }

    /// <summary>A fresh model with random weights, soft prompts initialised from the router's text prompts.</summary>
    public static RsMoeModel Create(RsMoeConfig config, IReadOnlyList<string> instructionVocabulary, ITextTokenizer llmTokenizer, long seed, Device? device = null)
    {
        device ??= CPU;
        if (instructionVocabulary.Count != config.QFormer.VocabSize)
            throw new ArgumentException($"the instruction vocabulary has {instructionVocabulary.Count} tokens but the Q-Former expects {config.QFormer.VocabSize}");
        if (llmTokenizer.VocabSize != config.Llm.VocabSize)
            throw new ArgumentException($"the LLM tokenizer has {llmTokenizer.VocabSize} tokens but the LLM expects {config.Llm.VocabSize}");
        manual_seed(seed);
        var encoder = new VlmEncoder(config.QFormer, config.NumQueryTokens, config.Llm.HiddenSize, config.Router, config.VisualSummaryToken);
        var llm = LlamaForCausalLM.Create(config.Llm, ScalarType.Float32, seed: seed + 1);
        llm.InitializeWeights(0.02, seed + 2);
        InitializeQFormer(encoder, seed + 3);
        var model = new RsMoeModel(config, encoder, llm, BertWordPieceTokenizer.FromVocabulary(instructionVocabulary), llmTokenizer, device);
        model.InitialiseRouterPrompts();
        model.MoveTo(device);
        return model;
    }

    /// <summary>BERT's initialisation for the Q-Former trained from scratch: N(0, 0.02) weights, zero biases, unit LayerNorms.</summary>
    static void InitializeQFormer(VlmEncoder encoder, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in encoder.named_parameters())
        {
            if (name.StartsWith("router.", StringComparison.Ordinal)) continue;
            if (name.Contains("LayerNorm.") || name.Contains("layernorm.")) { if (name.EndsWith("weight")) p.fill_(1.0); else p.zero_(); }
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, 0.02, generator);
        }
    }

    void InitialiseRouterPrompts()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < Config.Router.NumExperts; i++)
        {
            string role = Config.Router.ExpertRoles[i];
            string text = Config.Router.InitialPrompts.TryGetValue(role, out var t) ? t : role;
            var ids = LlmTokenizer.Encode(text, addSpecialTokens: false).Select(x => (long)x).ToArray();
            if (ids.Length == 0) continue;
            Encoder.Router.InitialisePrompt(i, Base.Embed(tensor(ids).unsqueeze(0)).squeeze(0));
        }
    }

    internal void MoveTo(Device device)
    {
        if (device.type == DeviceType.CPU) return;
        Encoder.to(device);
        Base.to(device);
        foreach (var expert in _experts.Values) expert.to(device);
    }

    /// <summary>Tokenizer files copied into <c>llm/</c> on save when the LLM's tokenizer is not the word-level one.</summary>
    public List<string> TokenizerFiles { get; } = [];

    /// <summary>The paper-scale assembly: a VLM encoder loaded from InstructBLIP and a pretrained Llama with its tokenizers.</summary>
    public static RsMoeModel FromParts(RsMoeConfig config, VlmEncoder encoder, LlamaForCausalLM llm, BertWordPieceTokenizer instructions,
        ITextTokenizer llmTokenizer, IEnumerable<string> tokenizerFiles, bool initialiseRouterPrompts = true, Device? device = null)
    {
        var model = new RsMoeModel(config, encoder, llm, instructions, llmTokenizer, device ?? CPU);
        model.TokenizerFiles.AddRange(tokenizerFiles);
        if (initialiseRouterPrompts) model.InitialiseRouterPrompts();
        model.MoveTo(model.Device);
        return model;
    }

    /// <summary>Stage II: every expert starts as a copy of the Stage I model with a fresh LoRA adapter.</summary>
    public void StartExperts()
    {
        foreach (var expert in _experts.Values) expert.Dispose();
        _experts.Clear();
        foreach (var role in Config.Router.ExpertRoles)
        {
            var copy = LlamaForCausalLM.Create(Config.Llm, Base.DType, seed: 0);
            StateDictLoader.Load(copy, BaseWeights(Base)).EnsureComplete($"expert {role} from the Stage I model");
            LoraInjector.Attach(copy, Config.ExpertLora);
            if (Device.type != DeviceType.CPU) copy.to(Device);
            _experts[role] = copy;
        }
    }

    /// <summary>The Q-Former's instruction ids [B, T] and mask [B, T], right-padded.</summary>
    public (Tensor Ids, Tensor Mask) EncodeInstructions(IReadOnlyList<string> instructions) =>
        EncodeInstructions(InstructionTokenizer, Config.MaxInstructionTokens, instructions, Device);

    /// <summary>The Q-Former's instruction ids [B, T] and mask [B, T], right-padded, at most <paramref name="maxTokens"/> each.</summary>
    public static (Tensor Ids, Tensor Mask) EncodeInstructions(BertWordPieceTokenizer tokenizer, int maxTokens, IReadOnlyList<string> instructions, Device device)
    {
        var rows = instructions.Select(i => tokenizer.Encode(i).Take(maxTokens).Select(x => (long)x).ToArray()).ToList();
        int width = Math.Max(1, rows.Max(r => r.Length));
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
            for (int k = 0; k < rows[r].Length; k++) { ids[r * width + k] = rows[r][k]; mask[r * width + k] = 1; }
        return (tensor(ids, [rows.Count, width], ScalarType.Int64, device), tensor(mask, [rows.Count, width], ScalarType.Int64, device));
    }

    /// <summary>Visual tokens [B, N, vision] and instructions to per-expert prefixes and the gate.</summary>
    public VlmEncoderOutput Encode(Tensor visualTokens, IReadOnlyList<string> instructions)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = EncodeInstructions(instructions);
        var output = Encoder.Forward(visualTokens.to(ScalarType.Float32, Device), ids, mask);
        output.VisualPrefix.MoveToOuterDisposeScope();
        output.Routing.Prompts.MoveToOuterDisposeScope();
        output.Routing.GateLogits.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>The weights the CPU decoder reads for the base and every expert (see <see cref="LlamaForCausalLM.UseDecodeWeights"/>).</summary>
    public void UseDecodeWeights(Decoding.DecodeWeightFormat format)
    {
        Base.UseDecodeWeights(format);
        foreach (var expert in _experts.Values) expert.UseDecodeWeights(format);
    }

    public LlamaForCausalLM ExpertOrBase(string role) => _experts.TryGetValue(role, out var e) ? e : Base;

    internal void AddExpert(string role, LlamaForCausalLM expert) => _experts[role] = expert;

    /// <summary>A language model's weights without any LoRA adapter tensors (merged Stage I adapters are already in them).</summary>
    internal static Dictionary<string, Tensor> BaseWeights(LlamaForCausalLM lm) =>
        lm.state_dict().Where(p => !p.Key.Contains(".lora_", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);

    public void Dispose()
    {
        Bank?.Dispose();
        Encoder.Dispose();
        Base.Dispose();
        foreach (var expert in _experts.Values) expert.Dispose();
    }
}
