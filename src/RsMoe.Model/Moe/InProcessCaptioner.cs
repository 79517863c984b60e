using RsMoe.Captions;
using RsMoe.Model.Generation;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>A caption: merged text, each section with its expert, and the gate.</summary>
public sealed record CaptionResult(string Caption, IReadOnlyList<CaptionSection> Sections, IReadOnlyList<double> Gate);

/// <summary>An answer and the expert that wrote it.</summary>
public sealed record AnswerResult(string Answer, string Expert, IReadOnlyList<double> Gate);

/// <summary>
/// Captions and answers in one process with a whole <see cref="RsMoeModel"/> (the CLI, evaluation, tests): the same
/// <see cref="CaptionPolicy"/> the gateway follows across services — every expert writes its section and the sections
/// are merged; a question goes to the expert the policy's answer order puts first (in one process none is unavailable).
/// </summary>
public static class InProcessCaptioner
{
    /// <summary>How a caption's sections are decoded when the caller says nothing else.</summary>
    public static GenerationOptions DefaultCaptionOptions { get; } = new() { MaxNewTokens = CaptionPolicy.CaptionMaxNewTokens, RepetitionPenalty = CaptionPolicy.CaptionRepetitionPenalty };

    /// <summary>
    /// The options an expert decodes a section or an answer with: its tokenizer's stop tokens, and never stopping before
    /// <see cref="CaptionPolicy.MinNewTokens"/> (within the token budget).
    /// </summary>
    public static GenerationOptions ForExpert(this GenerationOptions options, IReadOnlyList<int> stopTokenIds) => options with
    {
        StopTokenIds = stopTokenIds,
        MinNewTokens = Math.Max(options.MinNewTokens, Math.Min(CaptionPolicy.MinNewTokens, options.MaxNewTokens)),
    };

    /// <summary>Every expert writes its section; sections are merged in aspect order.</summary>
    public static CaptionResult Caption(this RsMoeModel model, Tensor visualTokens, string instruction, GenerationOptions? options = null, Action<string, string>? onText = null,
        IReadOnlyCollection<string>? onlyRoles = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        options ??= DefaultCaptionOptions;
        options = options.ForExpert(model.LlmTokenizer.EosTokenIds);
        using var encoded = model.Encode(visualTokens.narrow(0, 0, 1), [instruction]);
        var gate = encoded.Routing.Gate()[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        var sections = new List<CaptionSection>();
        var promptIds = model.LlmTokenizer.Encode(instruction, addSpecialTokens: true);
        if (model.Bank is not null)
        {
            // One batched pass: row i is expert i's prefix and prompt, decoded with its adapter.
            var roles = model.Config.Router.ExpertRoles.Select((role, i) => (role, i)).Where(x => onlyRoles is null || onlyRoles.Contains(x.role)).ToList();
            var prompts = roles.Select(x => new GenerationPrompt(promptIds, encoded.ExpertPrefix(0, x.i), model.Bank.IndexOf(x.role))).ToList();
            var batch = new TextGenerator(model.Base, model.Bank).Generate(prompts, options,
                onText is null ? null : (row, token) => onText(roles[row].role, model.LlmTokenizer.Decode([token])));
            sections.AddRange(roles.Select((x, row) => new CaptionSection(x.role, x.role, model.LlmTokenizer.Decode(batch.Tokens[row]).Trim())));
            var (mergedCaption, mergedSections) = SectionMerger.Merge(sections);
            return new CaptionResult(mergedCaption, mergedSections, gate);
        }
        for (int i = 0; i < model.Config.Router.NumExperts; i++)
        {
            string role = model.Config.Router.ExpertRoles[i];
            if (onlyRoles is not null && !onlyRoles.Contains(role)) continue;
            var lm = model.ExpertOrBase(role);
            var prefix = encoded.ExpertPrefix(0, i);
            var result = new TextGenerator(lm).Generate([new GenerationPrompt(promptIds, prefix)], options,
                onText is null ? null : (_, token) => onText(role, model.LlmTokenizer.Decode([token])));
            sections.Add(new CaptionSection(role, role, model.LlmTokenizer.Decode(result.Tokens[0]).Trim()));
            if (model.Experts.Count == 0) break;   // before Stage II there is one model, not three experts
        }
        var (caption, merged) = SectionMerger.Merge(sections);
        return new CaptionResult(caption, merged, gate);
    }

    /// <summary>The expert <see cref="CaptionPolicy.AnswerOrder"/> puts first answers the question (in one process, none is unavailable).</summary>
    public static AnswerResult Ask(this RsMoeModel model, Tensor visualTokens, string question, GenerationOptions? options = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        options ??= new GenerationOptions { MaxNewTokens = CaptionPolicy.AnswerMaxNewTokens };
        options = options.ForExpert(model.LlmTokenizer.EosTokenIds);
        using var encoded = model.Encode(visualTokens.narrow(0, 0, 1), [question]);
        var gate = encoded.Routing.Gate()[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        int top = CaptionPolicy.AnswerOrder(gate)[0];
        string role = model.Config.Router.ExpertRoles[top];
        var result = model.Bank is not null
            ? new TextGenerator(model.Base, model.Bank).Generate(
                [new GenerationPrompt(model.LlmTokenizer.Encode(question, addSpecialTokens: true), encoded.ExpertPrefix(0, top), model.Bank.IndexOf(role))], options)
            : new TextGenerator(model.ExpertOrBase(role)).Generate(
                [new GenerationPrompt(model.LlmTokenizer.Encode(question, addSpecialTokens: true), encoded.ExpertPrefix(0, top))], options);
        return new AnswerResult(model.LlmTokenizer.Decode(result.Tokens[0]).Trim(), role, gate);
    }
}
