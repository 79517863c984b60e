using RsMoe.Model.Configs;
using RsMoe.Model.Router;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.QFormer;

/// <summary>What the VLM encoder gives each expert: projected query outputs (the visual prefix), its prompt, and the gate.</summary>
public sealed record VlmEncoderOutput(Tensor VisualPrefix, RouterOutput Routing) : IDisposable
{
    /// <summary>[batch, queries, llm_hidden].</summary>
    public Tensor VisualPrefix { get; } = VisualPrefix;

    /// <summary>Expert i's prefix for row b: the projected queries then its soft prompt, [queries + prompt_length, llm_hidden].</summary>
    public Tensor ExpertPrefix(int row, int expert) => cat([VisualPrefix[row], Routing.Prompts[row, expert]], 0);

    public void Dispose()
    {
        VisualPrefix.Dispose();
        Routing.Dispose();
    }
}

/// <summary>
/// The VLM encoder with the router: InstructBLIP's <c>qformer.*</c>, <c>query_tokens</c> and
/// <c>language_projection</c>, plus RS-MoE's <c>router.*</c>. Visual tokens and an instruction in;
/// per-expert prefixes and the gate out.
/// </summary>
public sealed class VlmEncoder : nn.Module
{
    readonly QFormerModel qformer;
    readonly Parameter query_tokens;
    readonly Linear language_projection;
    readonly InstructionRouter router;
    /// <summary>Learned offset of the summary token (null when the model has none).</summary>
    readonly Parameter? visual_summary;

    public QFormerConfig QFormerConfig { get; }
    public RouterConfig RouterConfig { get; }
    public int NumQueryTokens { get; }
    public QFormerModel QFormer => qformer;
    public bool HasSummaryToken => visual_summary is not null;
    public InstructionRouter Router => router;

    /// <param name="summaryToken">
    /// Put a summary token before the visual tokens: their mean plus a learned offset, as a ViT's class token sits before
    /// its patches. A grid encoder (ResNet-18) has no such token; its pooled feature is what a linear probe recognises
    /// scenes from best, and this hands it to the queries directly.
    /// </param>
    public VlmEncoder(QFormerConfig qformerConfig, int numQueryTokens, int llmHiddenSize, RouterConfig routerConfig, bool summaryToken = false) : base(nameof(VlmEncoder))
    {
        QFormerConfig = qformerConfig;
        NumQueryTokens = numQueryTokens;
        RouterConfig = routerConfig with { QFormerHiddenSize = qformerConfig.HiddenSize, LlmHiddenSize = llmHiddenSize };
        qformer = new QFormerModel(qformerConfig);
        query_tokens = nn.Parameter(randn(1, numQueryTokens, qformerConfig.HiddenSize) * 0.02);
        language_projection = nn.Linear(qformerConfig.HiddenSize, llmHiddenSize);
        router = new InstructionRouter(RouterConfig);
        if (summaryToken) visual_summary = nn.Parameter(zeros(1, 1, qformerConfig.EncoderHiddenSize));
        RegisterComponents();
    }

    /// <param name="imageEmbeds">[B, N, vision_hidden] visual tokens from the image encoder.</param>
    /// <param name="instructionIds">[B, T] BERT ids of the instruction (may be empty).</param>
    /// <param name="instructionMask">[B, T] 1 for real tokens.</param>
    public VlmEncoderOutput Forward(Tensor imageEmbeds, Tensor? instructionIds, Tensor? instructionMask)
    {
        using var scope = NewDisposeScope();
        long batch = imageEmbeds.shape[0];
        if (visual_summary is not null)
            imageEmbeds = cat([imageEmbeds.mean([1], keepdim: true).add(visual_summary.to_type(imageEmbeds.dtype), Scalars.One), imageEmbeds], 1);
        var queries = query_tokens.expand(batch, -1, -1);
        var hidden = qformer.Forward(queries, instructionIds, instructionMask, imageEmbeds);
        var queryOutput = hidden.narrow(1, 0, NumQueryTokens);
        long textLength = hidden.shape[1] - NumQueryTokens;
        var instructionOutput = textLength > 0 ? hidden.narrow(1, NumQueryTokens, textLength) : null;
        var prefix = language_projection.call(queryOutput);
        var routing = router.Forward(queryOutput, instructionOutput, instructionMask);
        routing.Prompts.MoveToOuterDisposeScope();
        routing.GateLogits.MoveToOuterDisposeScope();
        return new VlmEncoderOutput(prefix.MoveToOuterDisposeScope(), routing);
    }
}
