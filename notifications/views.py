from django.http import Http404
from django.shortcuts import render

from notifications.mail import dev_mailbox_get, dev_mailbox_list


def dev_mailbox(request):
    return render(request, "notifications/dev_mailbox.html", {"messages_": dev_mailbox_list()})


def dev_mailbox_message(request, message_id: str):
    message = dev_mailbox_get(message_id)
    if message is None:
        raise Http404("No such message.")
    text = message.get_body(preferencelist=("plain",))
    return render(
        request,
        "notifications/dev_mailbox_message.html",
        {
            "message": message,
            "text": text.get_content() if text else "",
            "attachments": [part.get_filename() or part.get_content_type() for part in message.iter_attachments()],
        },
    )
