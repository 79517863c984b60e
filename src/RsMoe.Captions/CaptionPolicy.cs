namespace RsMoe.Captions;

/// <summary>
/// How RS-MoE captions and answers, written once for the in-process captioner (<c>RsMoeModel</c>) and the gateway:
/// a caption is every expert's section, merged in the experts' order (<see cref="SectionMerger"/>); a question is
/// answered by the expert the router's gate ranks first, and by the next one only when that one is unavailable
/// (<see cref="AnswerOrder"/>). A model's own config names its experts; <see cref="Roles"/> are the paper's three.
/// </summary>
public static class CaptionPolicy
{
    /// <summary>The instruction for a caption: RSICap's most common prompt, the one the experts are trained with.</summary>
    public const string Instruction = "Describe this image in detail.";

    /// <summary>The question whose answer names an image's theme in a word or two (RSIVQA's scene question, which the experts are trained on).</summary>
    public const string ThemeQuestion = "What is the theme of this picture?";

    /// <summary>The aspects the paper's experts write, in caption order.</summary>
    public const string Theme = "theme", Objects = "objects", Relationships = "relationships";

    /// <summary>The paper's experts, in caption order: a model trained with three experts has these roles.</summary>
    public static IReadOnlyList<string> Roles { get; } = [Theme, Objects, Relationships];

    /// <summary>How long a caption's section may grow, in tokens, when the caller says nothing else.</summary>
    public const int CaptionMaxNewTokens = 80;

    /// <summary>The repetition penalty a caption's sections are decoded with (a short greedy section otherwise loops).</summary>
    public const double CaptionRepetitionPenalty = 1.1;

    /// <summary>
    /// The fewest tokens a section or an answer has: the stop token cannot come first, so nothing comes back empty (a
    /// model trained on real captions still stopped at once on one question in 1,441).
    /// </summary>
    public const int MinNewTokens = 1;

    /// <summary>How long an answer may grow, in tokens: answers are a word or a short phrase.</summary>
    public const int AnswerMaxNewTokens = 24;

    /// <summary>The experts (indices into the gate) in the order they are asked a question: by gate, highest first; ties keep the experts' order.</summary>
    public static IReadOnlyList<int> AnswerOrder(IReadOnlyList<double> gate) =>
        Enumerable.Range(0, gate.Count).OrderByDescending(i => gate[i]).ToArray();
}
