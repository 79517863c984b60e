using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RsMoe.Model.Router;

/// <summary>The router's answer for a batch: one prompt per expert and the gate over experts.</summary>
public sealed record RouterOutput(Tensor Prompts, Tensor GateLogits) : IDisposable
{
    /// <summary>[batch, experts, prompt_length, llm_hidden].</summary>
    public Tensor Prompts { get; } = Prompts;
    /// <summary>[batch, experts]; softmax gives the gate.</summary>
    public Tensor GateLogits { get; } = GateLogits;
    public Tensor Gate() => GateLogits.softmax(-1);

    public void Dispose()
    {
        Prompts.Dispose();
        GateLogits.Dispose();
    }
}

/// <summary>
/// RS-MoE's Instruction Router (PAPER.md's reading): expert i's prompt is a learned soft prompt
/// <c>soft_prompts[i]</c> (initialised from text) plus <c>offsets[i](gelu(condition([pooled queries; pooled instruction])))</c>;
/// the offsets start at zero, so an untrained router gives exactly the text-initialised prompts. <c>gate</c>
/// scores the experts from the same pooled features.
/// </summary>
public sealed class InstructionRouter : nn.Module
{
    readonly Parameter soft_prompts;
    readonly Linear condition;
    readonly ModuleList<Linear> offsets;
    readonly Linear gate;

    public RouterConfig Config { get; }

    public InstructionRouter(RouterConfig config) : base(nameof(InstructionRouter))
    {
        Config = config;
        soft_prompts = nn.Parameter(randn(config.NumExperts, config.PromptLength, config.LlmHiddenSize) * 0.02);
        condition = nn.Linear(2 * config.QFormerHiddenSize, config.Bottleneck);
        offsets = new ModuleList<Linear>(Enumerable.Range(0, config.NumExperts)
            .Select(_ => nn.Linear(config.Bottleneck, config.PromptLength * config.LlmHiddenSize)).ToArray());
        gate = nn.Linear(2 * config.QFormerHiddenSize, config.NumExperts);
        using (no_grad())
            foreach (var offset in offsets)
            {
                offset.weight!.zero_();
                offset.bias!.zero_();
            }
        RegisterComponents();
    }

    /// <param name="queryOutput">[B, Q, qformer_hidden] query hidden states from the Q-Former.</param>
    /// <param name="instructionOutput">[B, T, qformer_hidden] instruction hidden states, or null.</param>
    /// <param name="instructionMask">[B, T] 1 for real tokens, or null for all real.</param>
    public RouterOutput Forward(Tensor queryOutput, Tensor? instructionOutput, Tensor? instructionMask)
    {
        using var scope = NewDisposeScope();
        long batch = queryOutput.shape[0];
        var pooledQueries = queryOutput.mean([1L]);
        Tensor pooledInstruction;
        if (instructionOutput is null || instructionOutput.shape[1] == 0)
            pooledInstruction = zeros_like(pooledQueries);
        else
        {
            var weights = instructionMask is null
                ? ones(batch, instructionOutput.shape[1], 1, dtype: instructionOutput.dtype, device: instructionOutput.device)
                : instructionMask.to_type(instructionOutput.dtype).unsqueeze(-1);
            pooledInstruction = (instructionOutput * weights).sum(1) / weights.sum(1).clamp_min(Scalars.One);
        }
        var features = cat([pooledQueries, pooledInstruction], -1);
        var hidden = nn.functional.gelu(condition.call(features));
        var perExpert = offsets.Select((offset, i) =>
            soft_prompts[i].unsqueeze(0).add(offset.call(hidden).view(batch, Config.PromptLength, Config.LlmHiddenSize), Scalars.One)).ToList();
        var prompts = stack(perExpert, 1);
        var gateLogits = gate.call(features);
        return new RouterOutput(prompts.MoveToOuterDisposeScope(), gateLogits.MoveToOuterDisposeScope());
    }

    /// <summary>Sets expert <paramref name="expert"/>'s soft prompt from token embeddings [L, hidden], repeated or cut to the prompt length.</summary>
    public void InitialisePrompt(int expert, Tensor tokenEmbeddings)
    {
        if (tokenEmbeddings.shape[0] == 0) throw new ArgumentException("the initial prompt has no tokens");
        using var scope = NewDisposeScope();
        long length = Config.PromptLength;
        var index = arange(length, ScalarType.Int64, tokenEmbeddings.device) % tokenEmbeddings.shape[0];
        using (no_grad()) soft_prompts[expert].copy_(tokenEmbeddings.index_select(0, index));
    }
}
